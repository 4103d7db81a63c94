"""The report: one figure per line (value, unit, what it is compared with,
the ratio, the target ratio), printed as a table and written as JSON."""

import json
import os
import platform
import time
from pathlib import Path


class Report:
    def __init__(self, options):
        self.figures = []
        self.raw = {}
        self.info = {}
        self.options = options
        self.started = time.time()

    def figure(self, part, what, value, unit, compared_with=None, compared_value=None,
               target=None, note=None):
        ratio = None
        if value is not None and compared_value:
            ratio = value / compared_value
        meets = None
        if target and ratio is not None:
            op, bound = target
            meets = ratio >= bound if op == ">=" else ratio <= bound
        self.figures.append({
            "part": part, "what": what, "value": value, "unit": unit,
            "compared_with": compared_with, "compared_value": compared_value, "ratio": ratio,
            "target_ratio": f"{target[0]} {target[1]}" if target else None, "meets_target": meets,
            "note": note,
        })

    def merge(self, previous):
        """Takes the previous report's figures and raw results of the parts
        this run did not redo (a part rerun alone after it failed)."""
        redone = {f["part"] for f in self.figures}
        kept = [f for f in previous.get("figures", []) if f["part"] not in redone]
        self.figures = kept + self.figures
        for key, value in previous.get("raw", {}).items():
            self.raw.setdefault(key, value)
        for key, value in previous.get("info", {}).items():
            if key != "failed":
                self.info.setdefault(key, value)
        self.info["merged_from"] = {"generated_at": previous.get("generated_at"),
                                    "options": previous.get("options"), "note": previous.get("note")}

    def machine(self):
        mem = ""
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) // 1024 // 1024} GiB"
        except OSError:
            pass
        cpu = ""
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        load = os.getloadavg()
        return {"host": platform.node(), "cpus": os.cpu_count(), "cpu": cpu, "memory": mem,
                "kernel": platform.release(), "load_average_at_end": [round(x, 2) for x in load]}

    def write(self, path, note):
        path = Path(path)
        doc = {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "duration_s": round(time.time() - self.started, 1),
            "machine": self.machine(),
            "note": note,
            "options": self.options,
            "figures": self.figures,
            "info": self.info,
            "raw": self.raw,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")

    def table(self):
        def num(v):
            if v is None:
                return "-"
            if isinstance(v, float) and abs(v) < 100:
                return f"{v:.2f}"
            return f"{v:,.0f}"
        rows = [("part", "what", "value", "unit", "compared with", "its value", "ratio", "target", "ok")]
        for f in self.figures:
            ok = {True: "yes", False: "NO", None: ""}[f["meets_target"]]
            rows.append((f["part"], f["what"], num(f["value"]), f["unit"], f["compared_with"] or "",
                         num(f["compared_value"]), num(f["ratio"]) if f["ratio"] is not None else "",
                         f["target_ratio"] or "", ok))
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        lines = []
        for i, r in enumerate(rows):
            lines.append("  ".join(str(c).ljust(w) if j < 2 or j == 4 else str(c).rjust(w)
                                   for j, (c, w) in enumerate(zip(r, widths))).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)
