//! Change events to an EventBridge bus: `PutEvents` in batches within its limits (10
//! entries, 256 KiB), the entries it refuses retried with backoff, and an answer per
//! event so the consumer can report exactly which stream records to retry.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use domain::events::ChangeEvent;
use domain::ports::{EventPublisher, NotPublished};

use crate::aws::LazyClient;

/// `source` of every entry.
pub const SOURCE: &str = "user-profile";
const MAX_ENTRIES: usize = 10;
/// EventBridge's limit on a request, counted as it counts an entry.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Tries of an entry EventBridge refused (throttled, internal failure).
const TRIES: u32 = 3;

pub fn eventbridge_client(sdk: &aws_config::SdkConfig) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(sdk)
}

#[derive(Clone)]
pub struct EventBridgeBus {
    client: LazyClient<aws_sdk_eventbridge::Client>,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: LazyClient<aws_sdk_eventbridge::Client>, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    fn entry(&self, event: &ChangeEvent) -> Result<(PutEventsRequestEntry, usize), NotPublished> {
        let detail = serde_json::to_string(event)
            .map_err(|e| NotPublished::permanent(format!("serialize: {e}")))?;
        let detail_type = event.event_type.as_str();
        // EventBridge's size of an entry: its strings in UTF-8, 14 bytes for a time.
        let size = detail.len() + detail_type.len() + SOURCE.len() + self.bus.len() + 14;
        if size > MAX_BATCH_BYTES {
            return Err(NotPublished::permanent(format!(
                "{size} bytes, over EventBridge's limit"
            )));
        }
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        Ok((entry, size))
    }

    /// One `PutEvents` for `batch` (indexes into the outcomes), retrying what it refuses.
    async fn put(
        &self,
        batch: &[(usize, PutEventsRequestEntry)],
        outcomes: &mut [Result<(), NotPublished>],
    ) {
        let mut pending: Vec<(usize, PutEventsRequestEntry)> = batch.to_vec();
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << (2 * attempt))).await;
            }
            let sent = self
                .client
                .get()
                .put_events()
                .set_entries(Some(pending.iter().map(|(_, e)| e.clone()).collect()))
                .send()
                .await;
            let results = match sent {
                Ok(out) => out.entries.unwrap_or_default(),
                Err(e) => {
                    let reason =
                        aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
                    tracing::warn!(%reason, attempt, "PutEvents failed");
                    for (i, _) in &pending {
                        outcomes[*i] = Err(NotPublished::transient(reason.clone()));
                    }
                    continue;
                }
            };
            let mut retry = Vec::new();
            for ((i, entry), result) in pending
                .into_iter()
                .zip(results.into_iter().map(Some).chain(std::iter::repeat(None)))
            {
                match result.and_then(|r| r.error_code) {
                    None => outcomes[i] = Ok(()),
                    Some(code) => {
                        outcomes[i] = Err(NotPublished::transient(code));
                        retry.push((i, entry));
                    }
                }
            }
            if retry.is_empty() {
                return;
            }
            tracing::warn!(
                refused = retry.len(),
                attempt,
                "EventBridge refused entries"
            );
            pending = retry;
        }
    }
}

impl EventPublisher for EventBridgeBus {
    async fn publish(&self, events: &[ChangeEvent]) -> Vec<Result<(), NotPublished>> {
        let mut outcomes: Vec<Result<(), NotPublished>> =
            vec![Err(NotPublished::transient("not sent")); events.len()];
        let mut batch: Vec<(usize, PutEventsRequestEntry)> = Vec::new();
        let mut bytes = 0;
        for (i, event) in events.iter().enumerate() {
            let (entry, size) = match self.entry(event) {
                Ok(built) => built,
                Err(e) => {
                    outcomes[i] = Err(e);
                    continue;
                }
            };
            if batch.len() == MAX_ENTRIES || bytes + size > MAX_BATCH_BYTES {
                self.put(&batch, &mut outcomes).await;
                batch.clear();
                bytes = 0;
            }
            batch.push((i, entry));
            bytes += size;
        }
        if !batch.is_empty() {
            self.put(&batch, &mut outcomes).await;
        }
        outcomes
    }
}
