//! The per-channel live/offline state machine, as pure logic.
//!
//! Inputs are poll results, recorder exits and the passing of time; outputs
//! are [`Action`]s that the watcher carries out. Nothing here does I/O, so
//! every rule is unit-tested.
//!
//! Rules:
//! - offline → live: a new session (`live_start`), start recording part 1;
//! - live → offline: stop recording and wait `debounce`; live again inside
//!   the window continues the same session with the next part; still
//!   offline after it: `live_end`;
//! - title or category differs between two live polls: `title_change` /
//!   `category_change` with the old and new `live_info`;
//! - the recorder stops while the channel is still live: the next live
//!   poll starts the next part;
//! - `error_after` consecutive failed polls: one `error` action (again only
//!   after a success).

use std::time::{Duration, Instant};

use onelive_events::{LiveInfo, LiveStatus, Uuid};

/// What one poll found.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The channel is live with this metadata.
    Live(LiveInfo),
    /// The channel is offline.
    Offline,
    /// The poll failed (network, platform error): the state is unknown.
    Failed(String),
}

/// What the watcher must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Emit `live_start`.
    LiveStart {
        /// The new session.
        session_id: Uuid,
        /// Metadata.
        info: LiveInfo,
    },
    /// Emit `live_end`.
    LiveEnd {
        /// The session that ended.
        session_id: Uuid,
        /// Last known metadata, with status `offline`.
        info: LiveInfo,
    },
    /// Emit `title_change`.
    TitleChange {
        /// Session.
        session_id: Uuid,
        /// Before.
        old: LiveInfo,
        /// After.
        new: LiveInfo,
    },
    /// Emit `category_change`.
    CategoryChange {
        /// Session.
        session_id: Uuid,
        /// Before.
        old: LiveInfo,
        /// After.
        new: LiveInfo,
    },
    /// Start recording this part of the session.
    StartRecording {
        /// Session.
        session_id: Uuid,
        /// Part number, 1-based.
        part: u32,
    },
    /// Stop the running recording (it finalizes its file).
    StopRecording,
    /// Emit `error` (a human should look).
    Error {
        /// Session, when live.
        session_id: Option<Uuid>,
        /// Description.
        message: String,
    },
}

/// The phase of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not live (no session).
    Offline,
    /// Live (a session is open).
    Live,
    /// Seen offline during a session; `live_end` unless it comes back before the deadline.
    Ending {
        /// When the debounce window closes.
        deadline: Instant,
    },
}

/// The state machine of one channel.
#[derive(Debug, Clone)]
pub struct ChannelMachine {
    phase: Phase,
    debounce: Duration,
    record: bool,
    session: Option<Uuid>,
    info: LiveInfo,
    part: u32,
    recording: bool,
    manual_stop: bool,
    failures: u32,
    error_after: u32,
    error_reported: bool,
}

impl ChannelMachine {
    /// A machine for an offline channel. `record = false` means notify only.
    pub fn new(debounce: Duration, record: bool, error_after: u32) -> Self {
        ChannelMachine {
            phase: Phase::Offline,
            debounce,
            record,
            session: None,
            info: LiveInfo::default(),
            part: 0,
            recording: false,
            manual_stop: false,
            failures: 0,
            error_after: error_after.max(1),
            error_reported: false,
        }
    }

    /// A machine for a session that was open when the engine last stopped
    /// (a crash or a restart): it starts in the debounce window that closes
    /// at `deadline`. Live before then continues `session_id` with part
    /// `last_part + 1` and no `live_start`; still offline (or unknown) at
    /// `deadline` gives its `live_end`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use onelive_engine::{Action, ChannelMachine, Observation};
    /// use onelive_events::{LiveInfo, Uuid};
    ///
    /// let session = Uuid::now_v7();
    /// let now = Instant::now();
    /// let deadline = now + Duration::from_secs(60);
    /// let mut m = ChannelMachine::resume(
    ///     Duration::from_secs(60), true, 3, session, LiveInfo::default(), 2, deadline,
    /// );
    /// let actions = m.observe(now, Observation::Live(LiveInfo::default()));
    /// assert_eq!(actions, [Action::StartRecording { session_id: session, part: 3 }]);
    /// ```
    pub fn resume(
        debounce: Duration,
        record: bool,
        error_after: u32,
        session_id: Uuid,
        info: LiveInfo,
        last_part: u32,
        deadline: Instant,
    ) -> Self {
        let mut m = ChannelMachine::new(debounce, record, error_after);
        m.phase = Phase::Ending { deadline };
        m.session = Some(session_id);
        m.info = info;
        m.part = last_part;
        m
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The open session, if any.
    pub fn session_id(&self) -> Option<Uuid> {
        self.session
    }

    /// Last known metadata.
    pub fn live_info(&self) -> &LiveInfo {
        &self.info
    }

    /// True while the machine believes a recording runs.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Current part number (0 before the first).
    pub fn part(&self) -> u32 {
        self.part
    }

    /// Consecutive failed polls.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the machine needs [`ChannelMachine::tick`] at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Ending { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// Feeds one poll result.
    pub fn observe(&mut self, now: Instant, obs: Observation) -> Vec<Action> {
        let mut actions = Vec::new();
        match obs {
            Observation::Failed(message) => {
                self.failures += 1;
                if self.failures >= self.error_after && !self.error_reported {
                    self.error_reported = true;
                    actions.push(Action::Error {
                        session_id: self.session,
                        message: format!(
                            "{} consecutive polls failed; last error: {message}",
                            self.failures
                        ),
                    });
                }
                // The state is unknown: keep it, but let a pending live_end fire.
                actions.extend(self.tick(now));
                return actions;
            }
            Observation::Live(mut info) => {
                self.failures = 0;
                self.error_reported = false;
                info.status = LiveStatus::Live;
                // A window that closed while nobody ticked ends the old session first.
                actions.extend(self.tick(now));
                match self.phase {
                    Phase::Offline => {
                        let session_id = Uuid::now_v7();
                        self.session = Some(session_id);
                        self.info = info.clone();
                        self.phase = Phase::Live;
                        self.part = 0;
                        self.manual_stop = false;
                        actions.push(Action::LiveStart { session_id, info });
                        self.start_next_part(&mut actions);
                    }
                    Phase::Live | Phase::Ending { .. } => {
                        let resumed = matches!(self.phase, Phase::Ending { .. });
                        self.phase = Phase::Live;
                        self.diff_info(info, &mut actions);
                        if resumed || !self.recording {
                            self.start_next_part(&mut actions);
                        }
                    }
                }
            }
            Observation::Offline => {
                self.failures = 0;
                self.error_reported = false;
                if self.phase == Phase::Live {
                    self.phase = Phase::Ending { deadline: now + self.debounce };
                    if self.recording {
                        self.recording = false;
                        actions.push(Action::StopRecording);
                    }
                }
                actions.extend(self.tick(now));
            }
        }
        actions
    }

    /// Lets time pass: closes the session when the debounce window is over.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Phase::Ending { deadline } = self.phase
            && now >= deadline
        {
            self.end_session(&mut actions);
        }
        actions
    }

    /// The recorder stopped on its own (ffmpeg exit, watchdog stop). Nothing
    /// starts at once: the watcher polls again right away, and a live answer
    /// starts the next part (so a stream that just ended is not retried).
    pub fn recording_stopped(&mut self) {
        self.recording = false;
    }

    /// The recorder split into more parts than the machine started: the
    /// next part gets at least `next_part`.
    pub fn bump_part(&mut self, next_part: u32) {
        if next_part > 0 {
            self.part = self.part.max(next_part - 1);
        }
    }

    /// A recording could not start (no slot, disk full, no stream): the
    /// part number is given back and the next live poll tries again.
    pub fn recording_failed(&mut self) {
        if self.recording {
            self.recording = false;
            self.part = self.part.saturating_sub(1);
        }
    }

    /// True when a live poll would start a recording now.
    pub fn wants_recording(&self) -> bool {
        self.record && !self.manual_stop && !self.recording && self.phase == Phase::Live
    }

    /// "Stop recording now" from the API: stops until the session ends or
    /// [`ChannelMachine::manual_start`] is called.
    pub fn manual_stop(&mut self) -> Vec<Action> {
        self.manual_stop = true;
        if self.recording {
            self.recording = false;
            return vec![Action::StopRecording];
        }
        Vec::new()
    }

    /// "Start recording now" from the API: records if live.
    pub fn manual_start(&mut self) -> Vec<Action> {
        self.manual_stop = false;
        let mut actions = Vec::new();
        if self.phase == Phase::Live && !self.recording {
            self.start_next_part(&mut actions);
        }
        actions
    }

    /// The watcher stops (channel removed or disabled, app exit): stop the
    /// recording; when `end_session` the open session gets its `live_end`.
    pub fn shutdown(&mut self, end_session: bool) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.recording {
            self.recording = false;
            actions.push(Action::StopRecording);
        }
        if end_session && self.session.is_some() {
            self.end_session(&mut actions);
        }
        actions
    }

    fn end_session(&mut self, actions: &mut Vec<Action>) {
        if let Some(session_id) = self.session.take() {
            let mut info = self.info.clone();
            info.status = LiveStatus::Offline;
            if self.recording {
                self.recording = false;
                actions.push(Action::StopRecording);
            }
            actions.push(Action::LiveEnd { session_id, info });
        }
        self.phase = Phase::Offline;
        self.manual_stop = false;
    }

    fn start_next_part(&mut self, actions: &mut Vec<Action>) {
        if !self.record || self.manual_stop || self.recording {
            return;
        }
        if let Some(session_id) = self.session {
            self.part += 1;
            self.recording = true;
            actions.push(Action::StartRecording { session_id, part: self.part });
        }
    }

    fn diff_info(&mut self, new: LiveInfo, actions: &mut Vec<Action>) {
        let Some(session_id) = self.session else {
            self.info = new;
            return;
        };
        let old = self.info.clone();
        if !new.title.is_empty() && new.title != old.title {
            actions.push(Action::TitleChange { session_id, old: old.clone(), new: new.clone() });
        }
        if !new.categories.is_empty() && new.categories != old.categories {
            actions.push(Action::CategoryChange { session_id, old, new: new.clone() });
        }
        self.info = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(title: &str, cat: &str) -> Observation {
        Observation::Live({
            let mut built = LiveInfo::default();
            built.title = title.into();
            built.categories = vec![cat.into()];
            built.status = LiveStatus::Live;
            built
        })
    }

    fn names(actions: &[Action]) -> Vec<&'static str> {
        actions
            .iter()
            .map(|a| match a {
                Action::LiveStart { .. } => "live_start",
                Action::LiveEnd { .. } => "live_end",
                Action::TitleChange { .. } => "title_change",
                Action::CategoryChange { .. } => "category_change",
                Action::StartRecording { .. } => "start",
                Action::StopRecording => "stop",
                Action::Error { .. } => "error",
            })
            .collect()
    }

    const DEBOUNCE: Duration = Duration::from_secs(120);

    #[test]
    fn goes_live_then_ends_after_debounce() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        let a = m.observe(t0, live("t", "c"));
        assert_eq!(names(&a), ["live_start", "start"]);
        let Action::LiveStart { session_id, .. } = &a[0] else { panic!() };
        assert_eq!(a[1], Action::StartRecording { session_id: *session_id, part: 1 });
        assert_eq!(names(&m.observe(t0 + Duration::from_secs(30), Observation::Offline)), ["stop"]);
        assert!(m.observe(t0 + Duration::from_secs(60), Observation::Offline).is_empty());
        assert!(m.tick(t0 + Duration::from_secs(149)).is_empty());
        let end = m.tick(t0 + Duration::from_secs(150));
        assert_eq!(names(&end), ["live_end"]);
        let Action::LiveEnd { session_id: ended, info } = &end[0] else { panic!() };
        assert_eq!(ended, session_id);
        assert_eq!(info.status, LiveStatus::Offline);
        assert_eq!(info.title, "t");
        assert_eq!(m.phase(), Phase::Offline);
        assert!(m.session_id().is_none());
    }

    #[test]
    fn blip_inside_debounce_continues_session_with_next_part() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        let a = m.observe(t0, live("t", "c"));
        let Action::LiveStart { session_id, .. } = a[0].clone() else { panic!() };
        m.observe(t0 + Duration::from_secs(10), Observation::Offline);
        let back = m.observe(t0 + Duration::from_secs(100), live("t", "c"));
        assert_eq!(back, vec![Action::StartRecording { session_id, part: 2 }]);
        assert_eq!(m.session_id(), Some(session_id));
        // The old deadline no longer applies.
        assert!(m.tick(t0 + Duration::from_secs(500)).is_empty());
    }

    #[test]
    fn offline_longer_than_debounce_gives_a_new_session() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        m.observe(t0, live("t", "c"));
        let first = m.session_id().unwrap();
        m.observe(t0 + Duration::from_secs(10), Observation::Offline);
        let a = m.observe(t0 + Duration::from_secs(200), live("t", "c"));
        // The window closed before this poll: the old session ends first.
        assert_eq!(names(&a), ["live_end", "live_start", "start"]);
        assert_ne!(m.session_id(), Some(first));
        let mut m2 = ChannelMachine::new(DEBOUNCE, true, 3);
        m2.observe(t0, live("t", "c"));
        m2.observe(t0 + Duration::from_secs(10), Observation::Offline);
        let end = m2.observe(t0 + Duration::from_secs(200), Observation::Offline);
        assert_eq!(names(&end), ["live_end"]);
        let again = m2.observe(t0 + Duration::from_secs(230), live("t", "c"));
        assert_eq!(names(&again), ["live_start", "start"]);
        assert_ne!(m2.session_id(), Some(first));
    }

    #[test]
    fn title_and_category_changes_carry_old_and_new() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        m.observe(t0, live("first", "Games"));
        let a = m.observe(t0 + Duration::from_secs(30), live("second", "Music"));
        assert_eq!(names(&a), ["title_change", "category_change"]);
        let Action::TitleChange { old, new, .. } = &a[0] else { panic!() };
        assert_eq!((old.title.as_str(), new.title.as_str()), ("first", "second"));
        let Action::CategoryChange { old, new, .. } = &a[1] else { panic!() };
        assert_eq!(old.categories, ["Games"]);
        assert_eq!(new.categories, ["Music"]);
        assert!(m.observe(t0 + Duration::from_secs(60), live("second", "Music")).is_empty());
    }

    #[test]
    fn recorder_exit_while_live_starts_next_part() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        m.observe(t0, live("t", "c"));
        m.recording_stopped();
        assert!(m.wants_recording());
        let a = m.observe(t0 + Duration::from_secs(1), live("t", "c"));
        assert!(matches!(a[..], [Action::StartRecording { part: 2, .. }]));
        m.recording_stopped();
        // Offline at the next poll: nothing starts, the session waits for the debounce.
        assert!(m.observe(t0 + Duration::from_secs(5), Observation::Offline).is_empty());
        assert!(!m.wants_recording());
    }

    #[test]
    fn failed_recording_start_is_retried_on_next_live_poll() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        m.observe(t0, live("t", "c"));
        m.recording_failed();
        assert_eq!(m.part(), 0);
        let a = m.observe(t0 + Duration::from_secs(30), live("t", "c"));
        assert!(matches!(a[..], [Action::StartRecording { part: 1, .. }]));
    }

    #[test]
    fn errors_are_reported_once_after_threshold_and_do_not_end_a_session() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        m.observe(t0, live("t", "c"));
        assert!(m.observe(t0, Observation::Failed("boom".into())).is_empty());
        assert!(m.observe(t0, Observation::Failed("boom".into())).is_empty());
        let a = m.observe(t0, Observation::Failed("boom".into()));
        assert_eq!(names(&a), ["error"]);
        let Action::Error { message, session_id } = &a[0] else { panic!() };
        assert!(message.contains("boom"), "{message}");
        assert_eq!(*session_id, m.session_id());
        assert!(m.observe(t0, Observation::Failed("boom".into())).is_empty());
        assert_eq!(m.phase(), Phase::Live);
        assert!(m.observe(t0, live("t", "c")).is_empty());
        assert_eq!(m.failures(), 0);
    }

    #[test]
    fn notify_only_channel_never_records() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, false, 3);
        assert_eq!(names(&m.observe(t0, live("t", "c"))), ["live_start"]);
        assert!(m.observe(t0 + Duration::from_secs(1), Observation::Offline).is_empty());
        assert_eq!(names(&m.tick(t0 + DEBOUNCE * 2)), ["live_end"]);
    }

    #[test]
    fn manual_stop_and_start() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        m.observe(t0, live("t", "c"));
        assert_eq!(names(&m.manual_stop()), ["stop"]);
        assert!(m.observe(t0 + Duration::from_secs(30), live("t", "c")).is_empty());
        assert!(!m.wants_recording());
        assert_eq!(names(&m.manual_start()), ["start"]);
    }

    #[test]
    fn shutdown_stops_and_optionally_ends() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(DEBOUNCE, true, 3);
        m.observe(t0, live("t", "c"));
        assert_eq!(names(&m.clone().shutdown(false)), ["stop"]);
        assert_eq!(names(&m.shutdown(true)), ["stop", "live_end"]);
    }

    #[test]
    fn a_resumed_session_continues_when_live_and_ends_after_the_window_when_not() {
        let t0 = Instant::now();
        let session = Uuid::now_v7();
        let info = {
            let mut built = LiveInfo::default();
            built.title = "t".into();
            built.categories = vec!["c".into()];
            built
        };
        let resumed = ChannelMachine::resume(DEBOUNCE, true, 3, session, info, 4, t0 + DEBOUNCE);
        let mut m = resumed.clone();
        assert_eq!(
            m.observe(t0 + Duration::from_secs(1), live("t", "c")),
            [Action::StartRecording { session_id: session, part: 5 }]
        );
        assert_eq!(m.session_id(), Some(session));
        assert_eq!(m.phase(), Phase::Live);
        // A changed title while the engine was down is a title_change of the same session.
        let mut m = resumed.clone();
        assert_eq!(names(&m.observe(t0, live("new", "c"))), ["title_change", "start"]);
        // Offline: nothing until the window closes, then live_end of the old session.
        let mut m = resumed.clone();
        assert!(m.observe(t0 + Duration::from_secs(1), Observation::Offline).is_empty());
        let end = m.observe(t0 + DEBOUNCE, Observation::Offline);
        assert_eq!(names(&end), ["live_end"]);
        let Action::LiveEnd { session_id, info } = &end[0] else { panic!() };
        assert_eq!((*session_id, info.title.as_str()), (session, "t"));
        assert_eq!(info.status, LiveStatus::Offline);
        // Live only after the window: the old session ends and a new one starts.
        let mut m = resumed;
        let a = m.observe(t0 + DEBOUNCE, live("t", "c"));
        assert_eq!(names(&a), ["live_end", "live_start", "start"]);
        assert_ne!(m.session_id(), Some(session));
    }

    #[test]
    fn zero_debounce_ends_on_first_offline() {
        let t0 = Instant::now();
        let mut m = ChannelMachine::new(Duration::ZERO, true, 3);
        m.observe(t0, live("t", "c"));
        assert_eq!(names(&m.observe(t0, Observation::Offline)), ["stop", "live_end"]);
    }
}
