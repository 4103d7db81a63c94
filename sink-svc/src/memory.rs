//! The service-wide budget for bytes the encoders hold in memory
//! (`--memory-limit`). Each task reports what its writers buffer; when the
//! total is over the limit, a task flushes its writers holding the most
//! until it is under its fair share.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The shared budget.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
    tasks: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit: limit.max(1 << 20),
            used: AtomicU64::new(0),
            tasks: AtomicUsize::new(0),
        })
    }

    /// A task's account in the budget.
    pub fn join(self: &Arc<Self>) -> TaskMemory {
        self.tasks.fetch_add(1, Ordering::Relaxed);
        TaskMemory { budget: self.clone(), mine: 0, retry_above: 0 }
    }

    /// Bytes used now over all tasks.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

/// One task's use of the budget; released when dropped.
#[derive(Debug)]
pub struct TaskMemory {
    budget: Arc<MemoryBudget>,
    mine: u64,
    /// No flush is asked for below this (see [`TaskMemory::flushed`]).
    retry_above: u64,
}

impl TaskMemory {
    /// Records that the task's writers now buffer `bytes`. Returns how many
    /// bytes the task should flush: none while the total is under the limit,
    /// else down to half its share (so flushes are not one record apart).
    pub fn set(&mut self, bytes: u64) -> u64 {
        if bytes >= self.mine {
            self.budget.used.fetch_add(bytes - self.mine, Ordering::Relaxed);
        } else {
            self.budget.used.fetch_sub(self.mine - bytes, Ordering::Relaxed);
        }
        self.mine = bytes;
        if self.budget.used() <= self.budget.limit || bytes < self.retry_above {
            return 0;
        }
        let share = self.budget.limit / self.budget.tasks.load(Ordering::Relaxed).max(1) as u64;
        bytes.saturating_sub(share / 2)
    }

    /// Records what the writers hold after a flush. Part of it cannot be
    /// flushed (open files' fixed state), so the next flush is asked for
    /// only once they hold a sixteenth of the share more: a task whose open
    /// files alone fill its share does not flush at every record.
    pub fn flushed(&mut self, bytes: u64) {
        self.set(bytes);
        self.retry_above = bytes + (self.share() / 16).max(64 << 10);
    }

    /// The most this task should buffer.
    pub fn share(&self) -> u64 {
        self.budget.limit / self.budget.tasks.load(Ordering::Relaxed).max(1) as u64
    }
}

impl Drop for TaskMemory {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.mine, Ordering::Relaxed);
        self.budget.tasks.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_flush_only_when_the_total_is_over() {
        let budget = MemoryBudget::new(4 << 20);
        let mut a = budget.join();
        let mut b = budget.join();
        assert_eq!(a.set(3 << 20), 0);
        assert_eq!(b.set(512 << 10), 0);
        let over = b.set(2 << 20);
        assert_eq!(over, (2 << 20) - (1 << 20), "down to half of a 2 MiB share");
        drop(a);
        assert_eq!(budget.used(), 2 << 20);
        assert_eq!(b.share(), 4 << 20);
    }

    #[test]
    fn after_a_flush_that_freed_too_little_the_next_waits_for_growth() {
        let budget = MemoryBudget::new(4 << 20);
        let mut task = budget.join();
        assert!(task.set(5 << 20) > 0);
        // The flush left 4.5 MiB that cannot be freed.
        task.flushed(9 << 19);
        assert_eq!(task.set((9 << 19) + 1000), 0, "not again at once");
        assert!(task.set(5 << 20) > 0, "once a sixteenth of the share more is held");
    }
}
