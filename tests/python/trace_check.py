#!/usr/bin/env python3
"""Finds, in Jaeger, one trace holding every operation named: the proof that
trace context crossed the hops between them (a source poll and the sink
upload of the same records, a CLI command and the control plane's RPC).

    python tests/python/trace_check.py --jaeger http://127.0.0.1:16686 \
        --service hydrate-sink --operation source.poll --operation sink.upload \
        [--timeout 60]

Polls Jaeger's query API (/api/traces) for recent traces of --service until
one contains all the operations (from any service) or the timeout passes.
Prints the trace id and its services; exits 1 when none was found. The last
line is "N passed, M failed".
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def traces(jaeger, service, lookback, limit):
    params = urllib.parse.urlencode({"service": service, "lookback": lookback, "limit": limit})
    with urllib.request.urlopen(f"{jaeger.rstrip('/')}/api/traces?{params}", timeout=10) as response:
        return json.load(response).get("data") or []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jaeger", required=True, help="Jaeger query base URL, e.g. http://127.0.0.1:16686")
    ap.add_argument("--service", required=True, help="a service whose traces are searched")
    ap.add_argument("--operation", action="append", required=True, help="an operation (span name) the trace must hold")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--lookback", default="1h")
    ap.add_argument("--limit", type=int, default=200)
    args = ap.parse_args(argv)

    wanted = set(args.operation)
    deadline = time.monotonic() + args.timeout
    last = "no trace yet"
    while True:
        try:
            for trace in traces(args.jaeger, args.service, args.lookback, args.limit):
                operations = {span["operationName"] for span in trace.get("spans", [])}
                if wanted <= operations:
                    services = sorted({p["serviceName"] for p in trace.get("processes", {}).values()})
                    print(f"trace {trace['traceID']} holds {sorted(wanted)} (services: {', '.join(services)})")
                    print("1 passed, 0 failed")
                    return 0
                last = f"closest trace {trace['traceID']} holds {sorted(operations)}"
        except (urllib.error.URLError, TimeoutError, ValueError) as err:
            last = f"cannot query {args.jaeger}: {err}"
        if time.monotonic() >= deadline:
            break
        time.sleep(2)
    print(f"no trace of {args.service} holds all of {sorted(wanted)} after {args.timeout:.0f}s ({last})")
    print("0 passed, 1 failed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
