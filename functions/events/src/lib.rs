//! The table's stream consumer: each record's images become change events
//! (`store::stream`), published to the bus. Records are handled in order. The first
//! record with an event that did not go out is reported as a batch item failure, so
//! Lambda retries from it while the records before it stay done; redelivered records
//! carry the same event ids. A record that cannot succeed (its images do not read, an
//! event too large for the bus), or still fails `give_up_after` past its commit, is
//! poison: it is set aside in the dead-letter queue, and the shard flows on. The letter
//! says where to find the record again and why it was set aside (user, item kind,
//! sequence number, event ids, reason) and nothing of what it held: the stream's images
//! carry password hashes, code digests, addresses and numbers, and a queue keeps its
//! messages for days. The item itself is still in the table, or its change in the
//! stream for 24 hours.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::Clock;
use domain::events::ChangeEvent;
use domain::ports::{DeadLetter, DeadLetters, EventPublisher};
use platform::{ConfigError, EventFunction, Platform};
use store::stream::{RecordKind, StreamRecord, events_of};

pub struct EventsApp<P, D> {
    pub publisher: P,
    pub dead_letters: D,
    pub give_up_after: std::time::Duration,
    pub clock: Clock,
}

impl EventsApp<adapters::events::EventBridgeBus, adapters::dead_letters::SqsDeadLetters> {
    pub fn new(p: &Platform) -> Result<Self, ConfigError> {
        Ok(Self {
            publisher: p.event_bus()?,
            dead_letters: p.dead_letters()?,
            give_up_after: p.settings.events_give_up_after,
            clock: p.clock.clone(),
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

/// The item's kind: the prefixes of its keys (`USER/PROFILE`, `EMAIL/CREDENTIAL`), never
/// the values after them, which may be an address or a number.
fn item_kind(record: &EventRecord) -> String {
    let prefix = |name: &str| match record.change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(key)) => {
            key.split('#').next().unwrap_or_default().to_owned()
        }
        _ => "?".to_owned(),
    };
    format!("{}/{}", prefix("pk"), prefix("sk"))
}

/// The user a record's partition names, for items outside a user's partition none.
fn user_of(record: &EventRecord) -> Option<String> {
    match record.change.keys.get("pk") {
        Some(serde_dynamo::AttributeValue::S(key)) => key.strip_prefix("USER#").map(str::to_owned),
        _ => None,
    }
}

fn failure(record: &EventRecord) -> DynamoDbEventResponse {
    let mut item = DynamoDbBatchItemFailure::default();
    item.item_identifier = record.change.sequence_number.clone();
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures.push(item);
    response
}

/// A record and what became of it.
struct Handled<'a> {
    record: &'a EventRecord,
    events: Vec<ChangeEvent>,
    /// Why its images did not read, if they did not.
    unreadable: Option<String>,
}

impl<P: EventPublisher + 'static, D: DeadLetters + 'static> EventFunction for EventsApp<P, D> {
    type Event = Event;
    type Output = DynamoDbEventResponse;

    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let handled: Vec<Handled> = event
            .records
            .iter()
            .filter_map(|record| {
                let stream = stream_record(record)?;
                Some(match events_of(&stream) {
                    Ok(events) => Handled {
                        record,
                        events,
                        unreadable: None,
                    },
                    // The parse error may quote the record's values: neither the log
                    // nor the letter carries it.
                    Err(_) => Handled {
                        record,
                        events: Vec::new(),
                        unreadable: Some("the record's images do not read".to_owned()),
                    },
                })
            })
            .collect();
        let all: Vec<ChangeEvent> = handled.iter().flat_map(|h| h.events.clone()).collect();
        let outcomes = self.publisher.publish(&all).await;
        let mut at = 0;
        let mut published = 0;
        for h in &handled {
            let refused = outcomes[at..at + h.events.len()]
                .iter()
                .find_map(|o| o.as_ref().err());
            at += h.events.len();
            let (reason, permanent) = match (&h.unreadable, refused) {
                (Some(reason), _) => (reason.clone(), true),
                (None, Some(e)) => (e.reason.clone(), e.permanent),
                (None, None) => {
                    published += h.events.len();
                    continue;
                }
            };
            if !self.set_aside_if_poison(h, &reason, permanent).await {
                // The sequence number is what Lambda's on-failure record names.
                tracing::warn!(
                    record = %h.record.event_id,
                    sequence_number = h.record.change.sequence_number.as_deref().unwrap_or_default(),
                    %reason,
                    "events not published; the record is retried"
                );
                return failure(h.record);
            }
        }
        tracing::info!(
            records = handled.len(),
            events = published,
            "stream batch published"
        );
        DynamoDbEventResponse::default()
    }
}

impl<P, D: DeadLetters> EventsApp<P, D> {
    /// Sets the record aside when retrying cannot help, or has not helped for
    /// `give_up_after` since its commit; whether it did.
    async fn set_aside_if_poison(
        &self,
        handled: &Handled<'_>,
        reason: &str,
        permanent: bool,
    ) -> bool {
        let record = handled.record;
        let age = self.clock.now() - record.change.approximate_creation_date_time;
        if !permanent && age.to_std().unwrap_or_default() < self.give_up_after {
            return false;
        }
        let first = handled.events.first();
        let user_id = first.map(|e| e.user_id.clone()).or_else(|| user_of(record));
        let body = serde_json::json!({
            "user_id": user_id,
            "item_kind": item_kind(record),
            "sequence_number": record.change.sequence_number,
            "stream_event_id": record.event_id,
            "event_ids": handled.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            "reason": reason,
        })
        .to_string();
        let mut attributes = vec![
            (
                "sequence_number",
                record.change.sequence_number.clone().unwrap_or_default(),
            ),
            ("event_id", record.event_id.clone()),
        ];
        if let Some(event) = first {
            attributes.push(("user_id", event.user_id.clone()));
            attributes.push(("aggregate", event.aggregate.to_string()));
            attributes.push(("version", event.version.to_string()));
        }
        let letter = DeadLetter {
            body,
            reason: reason.to_owned(),
            attributes,
        };
        match self.dead_letters.set_aside(letter).await {
            Ok(()) => {
                tracing::error!(
                    record = %record.event_id,
                    sequence_number = record.change.sequence_number.as_deref().unwrap_or_default(),
                    %reason,
                    "stream record given up on: in the dead-letter queue"
                );
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the dead-letter queue refused the record");
                false
            }
        }
    }
}
