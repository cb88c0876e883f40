//! The change-event pipeline as the tests run it: the table's real stream through the
//! template's event source mapping (`local_api::stream`), the events function publishing
//! to the stack's bus on the emulator, and a rule copying every event to a queue the
//! tests read (`make dev` wires the same parts).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use loyalty_sync::{LoyaltySync, Synced};
use platform::EventFunction;
use serde_json::Value;

use crate::{TestEnv, emulator_url, fail_events, sdk_config, workspace_root};

/// The bus, and a record of what was handed to it, in order. Each publish moves the
/// function's clock on by `step`, as Lambda's retries spread over time.
pub struct Recording {
    pub bus: adapters::events::EventBridgeBus,
    pub seen: std::sync::Mutex<Vec<domain::events::ChangeEvent>>,
    pub clock: domain::Clock,
    pub step: chrono::Duration,
}

impl domain::ports::EventPublisher for Recording {
    async fn publish(
        &self,
        events: &[domain::events::ChangeEvent],
    ) -> Vec<Result<(), domain::ports::NotPublished>> {
        self.seen.lock().unwrap().extend(events.iter().cloned());
        let outcomes = self.bus.publish(events).await;
        self.clock.advance(self.step);
        outcomes
    }
}

pub type App = events::EventsApp<Recording, adapters::dead_letters::SqsDeadLetters>;

/// How long the function retries a record before setting it aside, and how far its
/// clock moves per publish in these tests.
pub const GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(300);
pub const RETRY_STEP_SECS: i64 = 60;

/// The stack's bus on the emulator, a rule copying every event to a queue, and the
/// events function's dead-letter queue.
pub struct Bus {
    pub sdk: aws_config::SdkConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub dev: local_api::events::DevBus,
}

impl Bus {
    pub async fn new(env: &TestEnv) -> Self {
        let sdk = sdk_config(&emulator_url()).await;
        let dev = local_api::events::ensure_bus(&sdk, &env.table)
            .await
            .unwrap();
        Self {
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sdk,
            dev,
        }
    }

    /// The events function as `main` builds it, publishing to this bus and recording
    /// what it hands over.
    pub fn app(&self) -> App {
        let bridge = aws_sdk_eventbridge::Client::new(&self.sdk);
        let clock = domain::Clock::adjustable();
        events::EventsApp {
            publisher: Recording {
                bus: adapters::events::EventBridgeBus::new(
                    adapters::aws::LazyClient::ready(bridge),
                    &self.dev.bus,
                ),
                seen: Default::default(),
                clock: clock.clone(),
                step: chrono::Duration::seconds(RETRY_STEP_SECS),
            },
            dead_letters: adapters::dead_letters::SqsDeadLetters::new(
                adapters::aws::LazyClient::ready(self.sqs.clone()),
                &self.dev.dead_letter_url,
            ),
            give_up_after: GIVE_UP_AFTER,
            clock,
        }
    }

    /// The template's event source mapping of the events function on `env`'s table,
    /// retrying without waiting.
    pub async fn mapping(&self, env: &TestEnv) -> local_api::stream::EventSourceMapping {
        self.mapping_from(env, stream_source()).await
    }

    pub async fn mapping_from(
        &self,
        env: &TestEnv,
        source: local_api::template::StreamSource,
    ) -> local_api::stream::EventSourceMapping {
        let poller = local_api::stream::StreamPoller::new(
            &env.dynamodb,
            aws_sdk_dynamodbstreams::Client::new(&self.sdk),
            &env.table,
        )
        .await
        .unwrap();
        local_api::stream::EventSourceMapping::new(
            poller,
            source,
            "EventsFunction",
            self.sqs.clone(),
            &self.dev.dead_letter_url,
        )
        .with_backoff(std::time::Duration::ZERO)
    }

    /// The events function behind the template's mapping, nothing read yet.
    pub async fn consumer(&self, env: &TestEnv) -> Consumer {
        Consumer {
            app: self.app(),
            mapping: self.mapping(env).await,
        }
    }

    /// Everything the table's stream holds, through the mapping to the events function.
    pub async fn consume(&self, env: &TestEnv) -> (Consumer, Delivered) {
        let mut consumer = self.consumer(env).await;
        let delivered = consumer.run().await;
        (consumer, delivered)
    }

    /// Every EventBridge event the rule copied, whole (`detail` is the change event),
    /// the queue emptied.
    pub async fn drain_envelopes(&self) -> Vec<Value> {
        receive_all(&self.sqs, &self.dev.queue_url).await
    }

    pub async fn dead_letters(&self) -> Vec<(Value, std::collections::BTreeMap<String, String>)> {
        receive_with_attributes(&self.sqs, &self.dev.dead_letter_url).await
    }

    /// PutEvents refuses the next `count` entries to this bus (of `only`); 0 heals.
    pub fn fail(&self, count: u32, only: Option<&str>) {
        fail_events(&self.dev.bus, count, only);
    }
}

pub type Delivered = local_api::stream::Delivery;

/// The events function's `DynamoDB` event source as template.yaml declares it.
pub fn stream_source() -> local_api::template::StreamSource {
    local_api::Template::load(&workspace_root().join("template.yaml"))
        .unwrap()
        .functions["EventsFunction"]
        .stream
        .clone()
        .expect("EventsFunction reads the table's stream")
}

pub struct Consumer {
    pub app: App,
    pub mapping: local_api::stream::EventSourceMapping,
}

impl Consumer {
    /// Polls until the stream is read to its end: what the mapping did in all.
    pub async fn run(&mut self) -> Delivered {
        let mut total = Delivered::default();
        loop {
            let delivery = self.mapping.pump(&self.app).await.unwrap();
            if delivery.read == 0 {
                return total;
            }
            total.read += delivery.read;
            total.filtered_out += delivery.filtered_out;
            total.invocations += delivery.invocations;
            total.dead_lettered.extend(delivery.dead_lettered);
        }
    }

    /// Every event handed to the bus so far, in order.
    pub fn seen(&self) -> Vec<domain::events::ChangeEvent> {
        self.app.publisher.seen.lock().unwrap().clone()
    }
}

/// Every message a queue holds, as JSON, read until it is empty and deleted.
pub async fn receive_all(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Value> {
    receive_with_attributes(sqs, queue_url)
        .await
        .into_iter()
        .map(|(body, _)| body)
        .collect()
}

/// Every message a queue holds with its string message attributes.
pub async fn receive_with_attributes(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<(Value, std::collections::BTreeMap<String, String>)> {
    let mut out = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            let attributes = m
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.string_value?)))
                .collect();
            out.push((
                serde_json::from_str(m.body.as_deref().unwrap()).unwrap(),
                attributes,
            ));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

pub type Sync = LoyaltySync<adapters::loyalty::OpenLoyalty, adapters::dead_letters::SqsDeadLetters>;

/// The loyalty sync behind the template's rule: the table's stream through the events
/// function to the bus, the rule's pattern, and the sync function in process.
pub struct LoyaltyPipeline {
    pub bus: Bus,
    pub feed: Consumer,
    pub sync: Sync,
    pub rule: Value,
    pub dead_letters: String,
}

impl LoyaltyPipeline {
    pub async fn new(env: &TestEnv) -> Self {
        let bus = Bus::new(env).await;
        let feed = bus.consumer(env).await;
        let dead_letters = bus
            .sqs
            .create_queue()
            .queue_name(format!("{}-loyalty-sync-dead-letters", env.table))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let template = crate::template();
        let rule = template.functions["LoyaltySyncFunction"]
            .event_rule
            .clone()
            .expect("the loyalty sync has an EventBridge rule");
        let sync = LoyaltySync {
            platform: env.platform.loyalty(),
            cards: env.platform.store().unwrap(),
            erasures: env.platform.store().unwrap(),
            dead_letters: adapters::dead_letters::SqsDeadLetters::new(
                adapters::aws::LazyClient::ready(bus.sqs.clone()),
                &dead_letters,
            ),
        };
        Self {
            bus,
            feed,
            sync,
            rule,
            dead_letters,
        }
    }

    /// What the stream holds since the last run, through the events function to the
    /// bus; the events the rule matches, each to the sync: (type, outcome) in order.
    pub async fn run(&mut self) -> Vec<(String, Synced, EventBridgeEvent<Value>)> {
        self.feed.run().await;
        let mut out = Vec::new();
        for envelope in self.bus.drain_envelopes().await {
            if !local_api::stream::matches(&self.rule, Some(&envelope)).unwrap() {
                continue;
            }
            let event: aws_lambda_events::event::eventbridge::EventBridgeEvent<Value> =
                serde_json::from_value(envelope).unwrap();
            let outcome = self.sync.handle(event.clone()).await;
            out.push((event.detail_type.clone(), outcome, event));
        }
        out
    }

    pub async fn dead_letters(&self) -> Vec<(Value, std::collections::BTreeMap<String, String>)> {
        crate::change_feed::receive_with_attributes(&self.bus.sqs, &self.dead_letters).await
    }
}
