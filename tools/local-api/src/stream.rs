//! The table's stream read as Lambda's poller reads it, for `make dev` and the tests: the
//! emulator's DynamoDB Streams API, each shard's new records handed over as the stream
//! event a function receives (images in DynamoDB's JSON), through the event source
//! mapping the template declares: its filters, batch size, retries and on-failure queue.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::template::StreamSource;

pub struct StreamPoller {
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// The next iterator of each shard seen.
    iterators: BTreeMap<String, Option<String>>,
    /// The shard of each record of the last poll, by sequence number.
    shard_of: HashMap<String, String>,
}

fn failed(what: &str, e: impl std::fmt::Debug) -> String {
    format!("{what}: {e:?}")
}

impl StreamPoller {
    /// Follows `table`'s stream from its oldest record.
    pub async fn new(
        dynamodb: &aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: &str,
    ) -> Result<Self, String> {
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| failed("describe the table", e))?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| format!("{table} has no stream"))?;
        Ok(Self {
            streams,
            stream_arn,
            iterators: BTreeMap::new(),
            shard_of: HashMap::new(),
        })
    }

    /// The records written since the last poll, as one stream event (empty when none).
    pub async fn poll(&mut self) -> Result<aws_lambda_events::event::dynamodb::Event, String> {
        let shards = self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| failed("describe the stream", e))?
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default();
        let mut records = Vec::new();
        self.shard_of.clear();
        for shard in shards {
            let Some(id) = shard.shard_id else { continue };
            if !self.iterators.contains_key(&id) {
                let iterator = self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(&id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .map_err(|e| failed("open a shard", e))?
                    .shard_iterator;
                self.iterators.insert(id.clone(), iterator);
            }
            let Some(Some(iterator)) = self.iterators.get(&id).cloned() else {
                continue;
            };
            let out = self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .map_err(|e| failed("read a shard", e))?;
            self.iterators.insert(id.clone(), out.next_shard_iterator);
            for record in out.records.unwrap_or_default() {
                if let Some(sequence) = record
                    .dynamodb
                    .as_ref()
                    .and_then(|c| c.sequence_number.clone())
                {
                    self.shard_of.insert(sequence, id.clone());
                }
                records.push(record_json(&record, &self.stream_arn));
            }
        }
        serde_json::from_value(json!({ "Records": records }))
            .map_err(|e| failed("read the records as a stream event", e))
    }
}

/// Lambda's event source mapping of a function on the stream: filters, batches, retries
/// from the first record the function reports, and after the last retry the record's
/// on-failure record to the dead-letter queue, the records behind it going on. Lambda
/// bisects a failing batch until the reported record stands alone; here the reported
/// record is retried alone at once, which is where bisecting ends.
pub struct EventSourceMapping {
    poller: StreamPoller,
    source: StreamSource,
    function_name: String,
    dead_letters: aws_sdk_sqs::Client,
    dead_letter_queue: String,
    backoff: Duration,
}

/// What one poll came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Records read from the stream.
    pub read: usize,
    /// Records no filter let through: the function never saw them.
    pub filtered_out: usize,
    pub invocations: usize,
    /// Sequence numbers of the records given up on, in the dead-letter queue.
    pub dead_lettered: Vec<String>,
}

impl EventSourceMapping {
    pub fn new(
        poller: StreamPoller,
        source: StreamSource,
        function_name: &str,
        dead_letters: aws_sdk_sqs::Client,
        dead_letter_queue: &str,
    ) -> Self {
        Self {
            poller,
            source,
            function_name: function_name.to_owned(),
            dead_letters,
            dead_letter_queue: dead_letter_queue.to_owned(),
            backoff: Duration::from_millis(200),
        }
    }

    /// The wait before the n-th retry is n times this (200 ms unless set).
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Reads what the stream holds since the last call and hands it to `function`.
    pub async fn pump<F>(&mut self, function: &F) -> Result<Delivery, String>
    where
        F: platform::EventFunction<Event = Event, Output = DynamoDbEventResponse>,
    {
        let polled = self.poller.poll().await?;
        let mut delivery = Delivery {
            read: polled.records.len(),
            ..Delivery::default()
        };
        let mut kept = Vec::new();
        for record in polled.records {
            if self.passes(&record)? {
                kept.push(record);
            } else {
                delivery.filtered_out += 1;
            }
        }
        for batch in kept.chunks(self.source.batch_size.max(1)) {
            self.invoke(function, batch.to_vec(), &mut delivery).await?;
        }
        Ok(delivery)
    }

    fn passes(&self, record: &EventRecord) -> Result<bool, String> {
        if self.source.filters.is_empty() {
            return Ok(true);
        }
        let record = serde_json::to_value(record).map_err(|e| failed("a record as JSON", e))?;
        for pattern in &self.source.filters {
            if matches(pattern, Some(&record))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn invoke<F>(
        &self,
        function: &F,
        mut records: Vec<EventRecord>,
        delivery: &mut Delivery,
    ) -> Result<(), String>
    where
        F: platform::EventFunction<Event = Event, Output = DynamoDbEventResponse>,
    {
        let mut failing: Option<String> = None;
        let mut retries = 0;
        while !records.is_empty() {
            let mut event = Event::default();
            event.records = records.clone();
            delivery.invocations += 1;
            let response = function.handle(event).await;
            let Some(reported) = response.batch_item_failures.first() else {
                return Ok(());
            };
            // A sequence number not in the batch fails the whole batch, as in Lambda.
            let at = records
                .iter()
                .position(|r| r.change.sequence_number == reported.item_identifier)
                .unwrap_or(0);
            records.drain(..at);
            if failing != records[0].change.sequence_number {
                failing = records[0].change.sequence_number.clone();
                retries = 0;
            }
            if retries >= self.source.maximum_retry_attempts {
                let given_up = records.remove(0);
                self.dead_letter(&given_up, retries + 1).await?;
                delivery
                    .dead_lettered
                    .push(given_up.change.sequence_number.unwrap_or_default());
                continue;
            }
            retries += 1;
            tokio::time::sleep(self.backoff * retries).await;
        }
        Ok(())
    }

    /// Lambda's on-failure record of a stream batch: where the record is, not the record.
    async fn dead_letter(&self, record: &EventRecord, invocations: u32) -> Result<(), String> {
        let sequence = record.change.sequence_number.clone().unwrap_or_default();
        let arrival = record
            .change
            .approximate_creation_date_time
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let body = json!({
            "requestContext": {
                "requestId": format!("local-{sequence}"),
                "functionArn": format!("arn:aws:lambda:us-east-1:000000000000:function:{}", self.function_name),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "DDBStreamBatchInfo": {
                "shardId": self.poller.shard_of.get(&sequence),
                "startSequenceNumber": sequence,
                "endSequenceNumber": sequence,
                "approximateArrivalOfFirstRecord": arrival,
                "approximateArrivalOfLastRecord": arrival,
                "batchSize": 1,
                "streamArn": self.poller.stream_arn,
            }
        });
        self.dead_letters
            .send_message()
            .queue_url(&self.dead_letter_queue)
            .message_body(body.to_string())
            .send()
            .await
            .map_err(|e| failed("send to the dead-letter queue", e))?;
        Ok(())
    }
}

/// Whether `value` matches an event filter `pattern`, in the subset of the pattern
/// language the template uses: nested fields, and lists of exact values and
/// `{"prefix": ...}`. Anything else is refused rather than guessed at.
pub fn matches(pattern: &Value, value: Option<&Value>) -> Result<bool, String> {
    match pattern {
        Value::Object(fields) => {
            for (name, inner) in fields {
                if !matches(inner, value.and_then(|v| v.get(name)))? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Value::Array(alternatives) => {
            let Some(value) = value else {
                return Ok(false);
            };
            for alternative in alternatives {
                let hit = match alternative {
                    Value::Object(operator) => match operator.get("prefix") {
                        Some(Value::String(prefix)) if operator.len() == 1 => value
                            .as_str()
                            .is_some_and(|v| v.starts_with(prefix.as_str())),
                        _ => {
                            return Err(format!(
                                "local-api does not emulate the filter {alternative}"
                            ));
                        }
                    },
                    exact => exact == value,
                };
                if hit {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        other => Err(format!("a filter's leaf must be a list, not {other}")),
    }
}

fn record_json(r: &aws_sdk_dynamodbstreams::types::Record, stream_arn: &str) -> Value {
    let change = r.dynamodb.as_ref();
    let image = |i: Option<&std::collections::HashMap<String, AttributeValue>>| {
        Value::Object(
            i.into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), attribute_json(v)))
                .collect::<Map<_, _>>(),
        )
    };
    json!({
        "eventID": r.event_id,
        "eventName": r.event_name.as_ref().map(|n| n.as_str()),
        "eventSource": "aws:dynamodb",
        "eventSourceARN": stream_arn,
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": change
                .and_then(|c| c.approximate_creation_date_time)
                .map_or(0, |t| t.secs()),
            "Keys": image(change.and_then(|c| c.keys.as_ref())),
            "NewImage": image(change.and_then(|c| c.new_image.as_ref())),
            "OldImage": image(change.and_then(|c| c.old_image.as_ref())),
            "SequenceNumber": change.and_then(|c| c.sequence_number.clone()),
            "SizeBytes": change.and_then(|c| c.size_bytes).unwrap_or(0),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    })
}

/// DynamoDB's JSON for one value (`{"S": "x"}`, `{"N": "1"}`, ...).
fn attribute_json(v: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Ss(ss) => json!({ "SS": ss }),
        AttributeValue::Ns(ns) => json!({ "NS": ns }),
        AttributeValue::Bs(bs) => json!({ "BS": bs.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({
            "M": m.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<Map<_, _>>()
        }),
        _ => json!({ "NULL": true }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sk: &str) -> Value {
        json!({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "USER#u"}, "sk": {"S": sk}}}})
    }

    #[test]
    fn filters_match_exact_values_and_prefixes_and_refuse_what_they_do_not_know() {
        let pattern =
            json!({"dynamodb": {"Keys": {"sk": {"S": ["PROFILE", {"prefix": "SEGMENT#"}]}}}});
        assert_eq!(matches(&pattern, Some(&record("PROFILE"))), Ok(true));
        assert_eq!(matches(&pattern, Some(&record("SEGMENT#3"))), Ok(true));
        assert_eq!(matches(&pattern, Some(&record("PROFILES"))), Ok(false));
        assert_eq!(matches(&pattern, Some(&record("OTP#x"))), Ok(false));
        assert_eq!(matches(&pattern, Some(&json!({"dynamodb": {}}))), Ok(false));
        let unknown = json!({"eventName": [{"anything-but": "REMOVE"}]});
        assert!(matches(&unknown, Some(&record("PROFILE"))).is_err());
    }
}
