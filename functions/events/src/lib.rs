//! The table's stream consumer (issue 14): each record's images become change events
//! (`store::stream`), published to the bus. Records are handled in order; the first
//! record with an event that did not go out is reported as a batch item failure, so
//! Lambda retries from it (and, after its retries, hands it to the DLQ) while the records
//! before it stay done. Redelivered records carry the same event ids.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::events::ChangeEvent;
use domain::ports::EventPublisher;
use platform::{ConfigError, EventFunction, Platform};
use store::stream::{RecordKind, StreamRecord, events_of};

pub struct EventsApp<P> {
    pub publisher: P,
}

impl EventsApp<adapters::events::EventBridgeBus> {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            publisher: p.event_bus()?,
        })
    }
}

fn image(item: &serde_dynamo::Item) -> Option<store::Item> {
    (!item.is_empty()).then(|| item.clone().into())
}

/// The store's view of a record; `None` for an event name Lambda does not send.
fn stream_record(record: &EventRecord) -> Option<StreamRecord> {
    let kind = match record.event_name.as_str() {
        "INSERT" => RecordKind::Insert,
        "MODIFY" => RecordKind::Modify,
        "REMOVE" => RecordKind::Remove,
        _ => return None,
    };
    Some(StreamRecord {
        id: record.event_id.clone(),
        kind,
        time: record
            .change
            .approximate_creation_date_time
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        old: image(&record.change.old_image),
        new: image(&record.change.new_image),
    })
}

fn failure(record: &EventRecord) -> DynamoDbEventResponse {
    let mut item = DynamoDbBatchItemFailure::default();
    item.item_identifier = record.change.sequence_number.clone();
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures.push(item);
    response
}

impl<P: EventPublisher + 'static> EventFunction for EventsApp<P> {
    type Event = Event;
    type Output = DynamoDbEventResponse;

    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        // Each record's events, in stream order; a record whose images do not read is
        // reported rather than skipped.
        let mut per_record: Vec<(&EventRecord, Vec<ChangeEvent>)> = Vec::new();
        for record in &event.records {
            let Some(stream) = stream_record(record) else {
                continue;
            };
            match events_of(&stream) {
                Ok(events) => per_record.push((record, events)),
                Err(e) => {
                    tracing::error!(error = %e, record = %record.event_id, "a stream record did not read");
                    per_record.push((record, Vec::new()));
                    return self.publish_until_failure(per_record, Some(record)).await;
                }
            }
        }
        self.publish_until_failure(per_record, None).await
    }
}

impl<P: EventPublisher> EventsApp<P> {
    /// Publishes every event; answers with the first record (in stream order) one of
    /// whose events did not go out, or `unreadable` if none did and it is set.
    async fn publish_until_failure(
        &self,
        per_record: Vec<(&EventRecord, Vec<ChangeEvent>)>,
        unreadable: Option<&EventRecord>,
    ) -> DynamoDbEventResponse {
        let all: Vec<ChangeEvent> = per_record.iter().flat_map(|(_, e)| e.clone()).collect();
        let outcomes = self.publisher.publish(&all).await;
        let mut at = 0;
        for (record, events) in &per_record {
            let refused = outcomes[at..at + events.len()]
                .iter()
                .find_map(|o| o.as_ref().err());
            at += events.len();
            if let Some(reason) = refused {
                // The sequence number is what the dead-letter queue's record names.
                tracing::warn!(
                    record = %record.event_id,
                    sequence_number = record.change.sequence_number.as_deref().unwrap_or_default(),
                    %reason,
                    "events not published; the record is retried"
                );
                return failure(record);
            }
        }
        let published = outcomes.len();
        tracing::info!(
            records = per_record.len(),
            events = published,
            "stream batch published"
        );
        unreadable.map_or_else(DynamoDbEventResponse::default, failure)
    }
}
