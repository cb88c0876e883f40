//! How many wrong passwords a login takes, and from whom: counted per address *and*
//! source, so a stranger's failures from one address do not keep the owner out from
//! another, with ceilings per address and per source across the others. Unknown and known
//! addresses are counted alike, so the answers tell them apart no more than the password
//! does.

/// The limits of failed logins (template parameters `LoginFailuresPerSource`,
/// `LoginFailuresPerAccountPerHour`, `LoginFailuresPerSourcePerHour`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures of one address from one source in a window of `window_secs`.
    pub per_address_and_source: u32,
    pub window_secs: i64,
    /// Failures of one address from every source in an hour.
    pub per_address_per_hour: u32,
    /// Failures from one source over every address in an hour.
    pub per_source_per_hour: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_address_and_source: 5,
            window_secs: 15 * 60,
            per_address_per_hour: 50,
            per_source_per_hour: 100,
        }
    }
}

impl LoginLimits {
    /// The start of the window `now` falls in.
    pub fn window(&self, now: i64) -> i64 {
        now - now.rem_euclid(self.window_secs)
    }
}
