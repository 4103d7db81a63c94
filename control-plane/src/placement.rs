//! Where tasks should run: a pure function from what is wanted and what runs
//! now to the moves that converge them, balanced and sticky.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{AssignmentRecord, Kind, Target, TaskConfig, WorkerRecord};

/// A connector as the planner sees it.
#[derive(Debug, Clone)]
pub struct WantedConnector {
    /// Its name.
    pub name: String,
    /// Source or sink.
    pub kind: Kind,
    /// Running, paused or stopped.
    pub target: Target,
    /// The spec revision its tasks come from.
    pub spec_revision: i64,
    /// Its tasks (empty when stopped).
    pub tasks: Vec<TaskConfig>,
    /// Tasks the user asked to restart (bumped to a new epoch in place).
    pub restart: HashSet<u32>,
}

/// A task assigned now.
#[derive(Debug, Clone)]
pub struct Current {
    /// The worker holding it.
    pub worker: String,
    /// The assignment.
    pub record: AssignmentRecord,
    /// Its etcd mod revision.
    pub revision: i64,
}

/// One step towards the wanted placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Give the task to `worker` under a new epoch, taking it from
    /// `previous` if someone holds it.
    Assign {
        /// The new owner.
        worker: String,
        /// The previous owner.
        previous: Option<String>,
        /// The assignment, its epoch still to be chosen.
        record: AssignmentRecord,
    },
    /// Rewrite the assignment in place (same epoch): only the target changed.
    Update {
        /// The owner.
        worker: String,
        /// The new record.
        record: AssignmentRecord,
        /// The revision it must still be at.
        revision: i64,
    },
    /// Take the task away.
    Unassign {
        /// The owner.
        worker: String,
        /// The connector.
        connector: String,
        /// The task.
        task: u32,
    },
}

/// Plans the moves from `current` to a balanced placement of `wanted` on
/// `workers`. Tasks stay where they are unless their worker is gone, of the
/// wrong kind, over capacity, or holds more than its fair share.
pub fn plan(wanted: &[WantedConnector], workers: &[WorkerRecord], current: &[Current]) -> Vec<Move> {
    let mut moves = Vec::new();
    let live: HashMap<&str, &WorkerRecord> = workers.iter().map(|w| (w.worker_id.as_str(), w)).collect();
    let wanted_by_name: HashMap<&str, &WantedConnector> =
        wanted.iter().map(|c| (c.name.as_str(), c)).collect();

    // Keep what may stay; drop what must go.
    let mut kept: BTreeMap<(String, u32), &Current> = BTreeMap::new();
    for cur in current {
        let (name, task) = (cur.record.connector.as_str(), cur.record.task);
        let keep = wanted_by_name.get(name).is_some_and(|c| {
            c.target != Target::Stopped
                && c.tasks.iter().any(|t| t.task == task)
                && live.get(cur.worker.as_str()).is_some_and(|w| w.kind == c.kind)
        });
        let duplicate = kept.contains_key(&(name.to_owned(), task));
        if keep && !duplicate {
            kept.insert((name.to_owned(), task), cur);
        } else {
            moves.push(Move::Unassign { worker: cur.worker.clone(), connector: name.to_owned(), task });
        }
    }

    for kind in [Kind::Source, Kind::Sink] {
        plan_kind(kind, wanted, workers, &mut kept, &mut moves);
    }
    moves
}

fn plan_kind(
    kind: Kind,
    wanted: &[WantedConnector],
    workers: &[WorkerRecord],
    kept: &mut BTreeMap<(String, u32), &Current>,
    moves: &mut Vec<Move>,
) {
    let mut pool: Vec<&WorkerRecord> = workers.iter().filter(|w| w.kind == kind).collect();
    pool.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
    let tasks: Vec<(&WantedConnector, &TaskConfig)> = wanted
        .iter()
        .filter(|c| c.kind == kind && c.target != Target::Stopped)
        .flat_map(|c| c.tasks.iter().map(move |t| (c, t)))
        .collect();
    if pool.is_empty() || tasks.is_empty() {
        return;
    }

    // Fair share: tasks spread evenly, never above a worker's capacity.
    let fair = tasks.len().div_ceil(pool.len());
    let limit = |w: &WorkerRecord| {
        if w.capacity == 0 { fair } else { fair.min(w.capacity as usize) }
    };
    let mut load: BTreeMap<&str, usize> = pool.iter().map(|w| (w.worker_id.as_str(), 0)).collect();

    // Sticky first: tasks keep their worker while it is under its limit.
    let mut placed: HashMap<(String, u32), String> = HashMap::new();
    let mut homeless: Vec<(&WantedConnector, &TaskConfig, Option<String>)> = Vec::new();
    for (connector, task) in &tasks {
        let key = (connector.name.clone(), task.task);
        match kept.get(&key) {
            Some(cur) => {
                let worker = pool.iter().find(|w| w.worker_id == cur.worker);
                match worker {
                    Some(w) if load[w.worker_id.as_str()] < limit(w) => {
                        *load.entry(w.worker_id.as_str()).or_default() += 1;
                        placed.insert(key, w.worker_id.clone());
                    }
                    _ => homeless.push((connector, task, Some(cur.worker.clone()))),
                }
            }
            None => homeless.push((connector, task, None)),
        }
    }

    // Then the rest, each to the least-loaded worker with room.
    for (connector, task, previous) in homeless {
        let target = pool
            .iter()
            .filter(|w| w.capacity == 0 || load[w.worker_id.as_str()] < w.capacity as usize)
            .min_by_key(|w| (load[w.worker_id.as_str()], w.worker_id.clone()));
        let Some(worker) = target else {
            // No capacity anywhere: the task stays unassigned (and any
            // previous owner over its limit is told to let go).
            if let Some(prev) = previous {
                kept.remove(&(connector.name.clone(), task.task));
                moves.push(Move::Unassign {
                    worker: prev,
                    connector: connector.name.clone(),
                    task: task.task,
                });
            }
            continue;
        };
        *load.entry(worker.worker_id.as_str()).or_default() += 1;
        kept.remove(&(connector.name.clone(), task.task));
        moves.push(Move::Assign {
            worker: worker.worker_id.clone(),
            previous,
            record: record_for(connector, task, 0),
        });
    }

    // Tasks that stay: new config or a restart means a new epoch in place;
    // a changed target only rewrites the record.
    for (connector, task) in &tasks {
        let key = (connector.name.clone(), task.task);
        let (Some(cur), Some(worker)) = (kept.get(&key), placed.get(&key)) else {
            continue;
        };
        let wanted = record_for(connector, task, cur.record.epoch);
        let restart = connector.restart.contains(&task.task);
        if restart
            || cur.record.spec_revision != wanted.spec_revision
            || cur.record.resources != wanted.resources
        {
            moves.push(Move::Assign {
                worker: worker.clone(),
                previous: Some(cur.worker.clone()),
                record: record_for(connector, task, 0),
            });
        } else if cur.record.target != wanted.target {
            moves.push(Move::Update { worker: worker.clone(), record: wanted, revision: cur.revision });
        }
    }
}

fn record_for(connector: &WantedConnector, task: &TaskConfig, epoch: u64) -> AssignmentRecord {
    AssignmentRecord {
        connector: connector.name.clone(),
        task: task.task,
        epoch,
        kind: connector.kind,
        resources: task.resources.clone(),
        target: connector.target,
        spec_revision: connector.spec_revision,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, kind: Kind) -> WorkerRecord {
        WorkerRecord {
            worker_id: id.into(),
            kind,
            capacity: 0,
            address: String::new(),
            version: String::new(),
            lease_id: 1,
        }
    }

    fn connector(name: &str, kind: Kind, tasks: u32) -> WantedConnector {
        WantedConnector {
            name: name.into(),
            kind,
            target: Target::Running,
            spec_revision: 7,
            tasks: (0..tasks).map(|t| TaskConfig { task: t, resources: vec![format!("r{t}")] }).collect(),
            restart: HashSet::new(),
        }
    }

    /// Applies moves to a placement, as the store would: each task's epoch
    /// counter outlives its assignments.
    fn apply(current: &[Current], moves: &[Move]) -> Vec<Current> {
        thread_local! {
            static EPOCHS: std::cell::RefCell<HashMap<(String, u32), u64>> = Default::default();
        }
        let mut out: Vec<Current> = current.to_vec();
        for m in moves {
            match m {
                Move::Assign { worker, previous, record } => {
                    if let Some(prev) = previous {
                        out.retain(|c| {
                            !(c.worker == *prev
                                && c.record.connector == record.connector
                                && c.record.task == record.task)
                        });
                    }
                    let mut record = record.clone();
                    record.epoch = EPOCHS.with(|e| {
                        let mut e = e.borrow_mut();
                        let epoch = e.entry((record.connector.clone(), record.task)).or_default();
                        *epoch += 1;
                        *epoch
                    });
                    out.push(Current { worker: worker.clone(), record, revision: 1 });
                }
                Move::Update { worker, record, .. } => {
                    for c in out.iter_mut() {
                        if c.worker == *worker
                            && c.record.connector == record.connector
                            && c.record.task == record.task
                        {
                            c.record = record.clone();
                        }
                    }
                }
                Move::Unassign { worker, connector, task } => {
                    out.retain(|c| {
                        !(c.worker == *worker && c.record.connector == *connector && c.record.task == *task)
                    });
                }
            }
        }
        out
    }

    fn loads(current: &[Current]) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for c in current {
            *m.entry(c.worker.clone()).or_default() += 1;
        }
        m
    }

    #[test]
    fn spreads_tasks_evenly_on_workers_of_the_right_kind() {
        let workers = vec![worker("a", Kind::Sink), worker("b", Kind::Sink), worker("s", Kind::Source)];
        let wanted = vec![connector("sink", Kind::Sink, 5)];
        let placed = apply(&[], &plan(&wanted, &workers, &[]));
        assert_eq!(placed.len(), 5);
        assert!(placed.iter().all(|c| c.worker != "s"));
        let l = loads(&placed);
        assert_eq!((l["a"], l["b"]), (3, 2));
        assert!(plan(&wanted, &workers, &placed).is_empty(), "a converged placement is stable");
    }

    #[test]
    fn dead_worker_tasks_move_and_others_stay() {
        let workers = vec![worker("a", Kind::Source), worker("b", Kind::Source), worker("c", Kind::Source)];
        let wanted = vec![connector("src", Kind::Source, 6)];
        let placed = apply(&[], &plan(&wanted, &workers, &[]));
        let survivors: Vec<WorkerRecord> = workers.iter().filter(|w| w.worker_id != "c").cloned().collect();
        // Worker c's lease expired: its keys are gone.
        let remaining: Vec<Current> = placed.iter().filter(|c| c.worker != "c").cloned().collect();
        let moves = plan(&wanted, &survivors, &remaining);
        assert_eq!(moves.len(), 2, "only c's two tasks move: {moves:?}");
        let after = apply(&remaining, &moves);
        assert_eq!(after.len(), 6);
        for c in &remaining {
            assert!(after.iter().any(|a| a.worker == c.worker && a.record.task == c.record.task), "sticky");
        }
        let moved: Vec<&Current> =
            after.iter().filter(|a| !remaining.iter().any(|r| r.record.task == a.record.task)).collect();
        assert!(moved.iter().all(|m| m.record.epoch == 2), "a moved task gets a higher epoch");
    }

    #[test]
    fn joining_worker_takes_a_fair_share_with_few_moves() {
        let two = vec![worker("a", Kind::Sink), worker("b", Kind::Sink)];
        let wanted = vec![connector("k", Kind::Sink, 6)];
        let placed = apply(&[], &plan(&wanted, &two, &[]));
        let three = vec![worker("a", Kind::Sink), worker("b", Kind::Sink), worker("c", Kind::Sink)];
        let moves = plan(&wanted, &three, &placed);
        let after = apply(&placed, &moves);
        assert_eq!(loads(&after).values().copied().collect::<Vec<_>>(), vec![2, 2, 2]);
        assert_eq!(moves.len(), 2, "two tasks move to the new worker: {moves:?}");
    }

    #[test]
    fn stop_unassigns_pause_updates_in_place_and_new_config_bumps_epoch() {
        let workers = vec![worker("a", Kind::Source)];
        let mut wanted = vec![connector("c", Kind::Source, 2)];
        let placed = apply(&[], &plan(&wanted, &workers, &[]));

        wanted[0].target = Target::Paused;
        let moves = plan(&wanted, &workers, &placed);
        assert!(
            moves.iter().all(|m| matches!(m, Move::Update { record, .. } if record.target == Target::Paused))
        );
        assert_eq!(moves.len(), 2);

        wanted[0].target = Target::Running;
        wanted[0].spec_revision = 9;
        let moves = plan(&wanted, &workers, &placed);
        assert!(moves.iter().all(|m| matches!(m, Move::Assign { previous: Some(p), .. } if p == "a")));

        wanted[0].target = Target::Stopped;
        let moves = plan(&wanted, &workers, &placed);
        assert_eq!(moves.iter().filter(|m| matches!(m, Move::Unassign { .. })).count(), 2);
    }

    #[test]
    fn capacity_is_respected_and_overflow_stays_unassigned() {
        let mut w = worker("a", Kind::Sink);
        w.capacity = 2;
        let wanted = vec![connector("k", Kind::Sink, 3)];
        let placed = apply(&[], &plan(&wanted, &[w], &[]));
        assert_eq!(placed.len(), 2);
    }

    #[test]
    fn restart_bumps_only_the_named_task() {
        let workers = vec![worker("a", Kind::Sink)];
        let mut wanted = vec![connector("k", Kind::Sink, 2)];
        let placed = apply(&[], &plan(&wanted, &workers, &[]));
        wanted[0].restart.insert(1);
        let moves = plan(&wanted, &workers, &placed);
        assert_eq!(moves.len(), 1);
        assert!(matches!(&moves[0], Move::Assign { record, .. } if record.task == 1));
    }
}
