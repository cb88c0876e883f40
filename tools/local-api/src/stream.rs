//! The table's stream read as Lambda's poller reads it, for `make dev` and the tests: the
//! emulator's DynamoDB Streams API, each shard's new records handed over as the stream
//! event a function receives (images in DynamoDB's JSON).

use std::collections::BTreeMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};

pub struct StreamPoller {
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// The next iterator of each shard seen.
    iterators: BTreeMap<String, Option<String>>,
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
            self.iterators.insert(id, out.next_shard_iterator);
            records.extend(out.records.unwrap_or_default().iter().map(record_json));
        }
        serde_json::from_value(json!({ "Records": records }))
            .map_err(|e| failed("read the records as a stream event", e))
    }
}

fn record_json(r: &aws_sdk_dynamodbstreams::types::Record) -> Value {
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
