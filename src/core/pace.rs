//! The page's polls, spread under a ceiling: every task's next poll is put here
//! ([`Pace::schedule`]) and one timer, set to [`Pace::wake`], takes what is due
//! ([`Pace::take`]). Two polls are never closer than [`GAP_MS`], so a batch of sixteen
//! running tasks asks WaveSpeed at most [`MAX_POLLS_PER_SECOND`] times a second, not
//! sixteen times every interval; a poll is never early, and the task due first goes
//! first (then the one scheduled first).

use super::api::TaskId;

/// The most polls sent in a second, whatever the number of tasks running.
pub const MAX_POLLS_PER_SECOND: u64 = 4;

/// The least time between two polls.
pub const GAP_MS: u64 = 1000 / MAX_POLLS_PER_SECOND;

/// The polls to come, and when the last one went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pace {
    /// Each task's poll and when it is due, in the order scheduled.
    due: Vec<(TaskId, u64)>,
    /// When the last poll went.
    last: Option<u64>,
}

impl Pace {
    /// Task `id`'s next poll is due at `at` (ms); one scheduled before for it is dropped.
    pub fn schedule(&mut self, id: TaskId, at: u64) {
        self.remove(&id);
        self.due.push((id, at));
    }

    /// Drops task `id`'s poll, if one is scheduled.
    pub fn remove(&mut self, id: &TaskId) {
        self.due.retain(|(t, _)| t != id);
    }

    /// How many polls are scheduled.
    pub fn len(&self) -> usize {
        self.due.len()
    }

    /// Whether no poll is scheduled.
    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// When the timer should next fire: the earliest due time, or later if the last poll
    /// went less than [`GAP_MS`] before it. `None` with nothing scheduled.
    pub fn wake(&self) -> Option<u64> {
        let first = self.due.iter().map(|(_, at)| *at).min()?;
        Some(match self.last {
            Some(last) => first.max(last.saturating_add(GAP_MS)),
            None => first,
        })
    }

    /// At `now`: the task whose poll goes now (the one due first), if any is due and the
    /// last poll went at least [`GAP_MS`] ago. The timer then waits for [`Pace::wake`].
    pub fn take(&mut self, now: u64) -> Option<TaskId> {
        if self.wake()? > now {
            return None;
        }
        let (index, _) = self
            .due
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, at))| (*at, *i))?;
        let (id, _) = self.due.remove(index);
        self.last = Some(now);
        Some(id)
    }
}

/// How far before a task's typical end its poll is aimed (a fifth of it): a task as
/// quick as usual is seen done the moment it is, not up to an interval later.
const AIM_EARLY_DIV: u64 = 5;

/// The least wait between two polls of one task, whatever [`aim`] works out.
pub const MIN_AIM_MS: u64 = 250;

/// When task's next poll is due, `elapsed` ms after it was made, when a task here
/// typically takes `typical` ms (`None`: not known yet) and the page polls every
/// `interval` ms:
/// - long before its typical end, every interval (as without a typical time);
/// - within an interval of it, at four fifths of the typical time (the last interval
///   is cut short, never lengthened);
/// - for one interval from there, three times an interval (it is due: seen done within
///   a third of an interval) — a few polls more than without aiming, not more;
/// - after that, every interval again (a slow one does not poll fast for long).
///
/// Never less than [`MIN_AIM_MS`] nor more than `interval`; [`Pace`] still keeps the
/// page's polls under [`MAX_POLLS_PER_SECOND`] in all.
pub fn aim(elapsed: u64, typical: Option<u64>, interval: u64) -> u64 {
    let Some(typical) = typical.filter(|&t| t > 0) else {
        return interval;
    };
    let at = typical - typical / AIM_EARLY_DIV;
    let wait = if elapsed < at {
        at - elapsed
    } else if elapsed < at.saturating_add(interval) {
        interval / 3
    } else {
        interval
    };
    wait.clamp(MIN_AIM_MS.min(interval), interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn task(n: u8) -> TaskId {
        TaskId::parse(&format!("{n:032x}")).unwrap()
    }

    #[test]
    fn sixteen_tasks_due_at_once_are_spread_a_gap_apart_in_order() {
        let mut pace = Pace::default();
        for n in 0..16 {
            pace.schedule(task(n), 1_000);
        }
        assert_eq!(pace.wake(), Some(1_000));
        assert_eq!(pace.take(999), None, "never early");
        let mut now = 1_000;
        let mut polled = Vec::new();
        while let Some(at) = pace.wake() {
            now = now.max(at);
            polled.push((pace.take(now).unwrap(), now));
            assert_eq!(pace.take(now), None, "one at a time");
        }
        assert_eq!(
            polled.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(),
            (0..16).map(task).collect::<Vec<_>>()
        );
        assert_eq!(polled.last().unwrap().1, 1_000 + 15 * GAP_MS);
    }

    #[test]
    fn a_task_scheduled_again_or_removed_keeps_one_poll_or_none() {
        let mut pace = Pace::default();
        pace.schedule(task(1), 5_000);
        pace.schedule(task(2), 3_000);
        pace.schedule(task(1), 2_000);
        assert_eq!(pace.len(), 2);
        assert_eq!(pace.wake(), Some(2_000));
        pace.remove(&task(1));
        assert_eq!(pace.wake(), Some(3_000));
        assert_eq!(pace.take(3_100), Some(task(2)));
        assert!(pace.is_empty());
        assert_eq!(pace.wake(), None);
        assert_eq!(pace.take(9_000), None);
    }

    #[test]
    fn a_poll_is_aimed_at_a_tasks_typical_end_and_comes_often_while_it_is_due() {
        // Not known yet: every interval.
        assert_eq!(aim(0, None, 1_500), 1_500);
        assert_eq!(aim(0, Some(0), 1_500), 1_500);
        // Typically 2 s: the second poll at 1.6 s, then every 500 ms until 3.1 s.
        assert_eq!(aim(0, Some(2_000), 1_500), 1_500);
        assert_eq!(aim(1_500, Some(2_000), 1_500), 250, "the least wait");
        assert_eq!(aim(1_000, Some(2_000), 1_500), 600);
        assert_eq!(aim(1_600, Some(2_000), 1_500), 500);
        assert_eq!(aim(3_099, Some(2_000), 1_500), 500);
        assert_eq!(aim(3_100, Some(2_000), 1_500), 1_500, "a slow one");
        // Typically two minutes: every interval until 96 s, every 500 ms until 97.5 s.
        assert_eq!(aim(30_000, Some(120_000), 1_500), 1_500);
        assert_eq!(aim(95_000, Some(120_000), 1_500), 1_000);
        assert_eq!(aim(96_000, Some(120_000), 1_500), 500);
        assert_eq!(aim(97_500, Some(120_000), 1_500), 1_500);
        // An interval shorter than the least wait is kept.
        assert_eq!(aim(0, Some(2_000), 100), 100);
    }

    proptest! {
        /// Whatever the times: never longer than the interval, never shorter than the
        /// least wait (or the interval if it is shorter), never past the aimed moment, and
        /// a task polled from its start to its end costs at most four polls more than
        /// one polled every interval.
        #[test]
        fn an_aimed_poll_is_never_later_than_an_interval(
            elapsed in 0u64..1_000_000,
            typical in proptest::option::of(0u64..1_000_000),
            interval in 1u64..60_000,
        ) {
            let wait = aim(elapsed, typical, interval);
            prop_assert!(wait <= interval);
            prop_assert!(wait >= MIN_AIM_MS.min(interval));
            if let Some(t) = typical.filter(|&t| t > 0) {
                let at = t - t / 5;
                if elapsed < at {
                    prop_assert!(elapsed + wait <= at.max(elapsed + MIN_AIM_MS.min(interval)));
                }
            }
            let (mut t, mut aimed) = (0u64, 0u64);
            while t < elapsed {
                t += aim(t, typical, interval);
                aimed += 1;
            }
            let plain = elapsed.div_ceil(interval);
            prop_assert!(aimed <= plain + 4, "{} polls against {}", aimed, plain);
        }
    }

    #[derive(Clone, Debug)]
    enum Step {
        Schedule(u8, u64),
        Remove(u8),
        /// The timer fires this long after it was due (a busy main thread, a throttled
        /// background tab).
        Fire(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..20, 0u64..5_000).prop_map(|(t, after)| Step::Schedule(t, after)),
            (0u8..20).prop_map(Step::Remove),
            (0u64..400).prop_map(Step::Fire),
        ]
    }

    /// Each task's poll still to go, and when it is due.
    type Wanted = std::collections::HashMap<TaskId, u64>;

    /// The timer fires at `now`: what goes is checked against what was wanted.
    fn fire(
        pace: &mut Pace,
        now: u64,
        wanted: &mut Wanted,
        last: &mut Option<u64>,
    ) -> Result<(), TestCaseError> {
        if let Some(id) = pace.take(now) {
            let due = wanted.remove(&id);
            prop_assert!(due.is_some(), "a poll nobody scheduled");
            prop_assert!(due.unwrap() <= now, "early");
            if let Some(l) = *last {
                prop_assert!(now >= l + GAP_MS, "two polls closer than the gap");
            }
            *last = Some(now);
        }
        prop_assert_eq!(pace.len(), wanted.len());
        Ok(())
    }

    proptest! {
        /// For any schedules, removals and late timers: polls are at least a gap apart,
        /// none goes before it is due or for a task not scheduled, each scheduled poll
        /// goes once, and when the timer keeps firing every poll left goes, within a gap
        /// per poll ahead of it.
        #[test]
        fn polls_stay_under_the_ceiling_and_none_is_lost(steps in prop::collection::vec(step(), 1..120)) {
            let mut pace = Pace::default();
            let mut now = 0u64;
            let mut wanted: Wanted = Wanted::new();
            let mut last: Option<u64> = None;
            for s in steps {
                match s {
                    Step::Schedule(t, after) => {
                        pace.schedule(task(t), now + after);
                        wanted.insert(task(t), now + after);
                    }
                    Step::Remove(t) => {
                        pace.remove(&task(t));
                        wanted.remove(&task(t));
                    }
                    Step::Fire(late) => {
                        if let Some(at) = pace.wake() {
                            now = now.max(at) + late;
                        }
                        fire(&mut pace, now, &mut wanted, &mut last)?;
                    }
                }
                now += 1;
            }
            // The timer keeps firing on time: every poll left goes, a gap apart.
            let left = wanted.len() as u64;
            let latest = wanted.values().copied().max().unwrap_or(now).max(now);
            while let Some(at) = pace.wake() {
                now = now.max(at);
                fire(&mut pace, now, &mut wanted, &mut last)?;
            }
            prop_assert!(wanted.is_empty());
            prop_assert!(now <= latest + (left + 1) * GAP_MS);
        }
    }
}
