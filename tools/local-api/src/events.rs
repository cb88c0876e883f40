//! Change events on the developer's machine: the stack's bus on the emulator with a rule
//! forwarding every event to a queue anyone can read, and the table's stream followed as
//! Lambda would, through the events function, each event printed as it goes out.

use std::time::Duration;

use domain::events::ChangeEvent;
use domain::ports::{EventPublisher, NotPublished};

/// The bus, the queue its rule fills, and the stream consumer's dead-letter queue.
pub struct DevBus {
    pub bus: String,
    pub queue_url: String,
    pub dead_letter_url: String,
}

fn failed(what: &str, e: impl std::fmt::Debug) -> String {
    format!("{what}: {e:?}")
}

/// The stack's bus alone, created unless it exists: its name.
pub async fn create_bus(
    bridge: &aws_sdk_eventbridge::Client,
    table: &str,
) -> Result<String, String> {
    let bus = crate::event_bus_name(table);
    if bridge.describe_event_bus().name(&bus).send().await.is_err() {
        bridge
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .map_err(|e| failed("create the event bus", e))?;
    }
    Ok(bus)
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, String> {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| failed(&format!("create the queue {name}"), e))
        .map(|q| q.queue_url.unwrap_or_default())
}

/// The events function's dead-letter queue (created unless it exists): its URL.
pub async fn create_dead_letter_queue(
    sqs: &aws_sdk_sqs::Client,
    table: &str,
) -> Result<String, String> {
    create_queue(
        sqs,
        &format!("{}-dead-letters", crate::event_bus_name(table)),
    )
    .await
}

/// `<table>-events` and its queue, created unless they exist.
pub async fn ensure_bus(sdk: &aws_config::SdkConfig, table: &str) -> Result<DevBus, String> {
    let (bridge, sqs) = (
        aws_sdk_eventbridge::Client::new(sdk),
        aws_sdk_sqs::Client::new(sdk),
    );
    let bus = create_bus(&bridge, table).await?;
    let pattern = format!(r#"{{"source": ["{}"]}}"#, adapters::events::SOURCE);
    let queue_url = rule_to_queue(&bridge, &sqs, &bus, "all-change-events", &pattern, &bus).await?;
    let dead_letter_url = create_dead_letter_queue(&sqs, table).await?;
    Ok(DevBus {
        bus,
        queue_url,
        dead_letter_url,
    })
}

/// A rule on `bus` matching `pattern`, its target a queue named `queue` (created unless
/// it exists): the queue's URL.
async fn rule_to_queue(
    bridge: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    bus: &str,
    rule: &str,
    pattern: &str,
    queue: &str,
) -> Result<String, String> {
    let queue_url = create_queue(sqs, queue).await?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| failed("read the queue's ARN", e))?
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default();
    bridge
        .put_rule()
        .name(rule)
        .event_bus_name(bus)
        .event_pattern(pattern)
        .send()
        .await
        .map_err(|e| failed("create the rule", e))?;
    bridge
        .put_targets()
        .rule(rule)
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .map_err(|e| failed("the rule's target", e))?,
        )
        .send()
        .await
        .map_err(|e| failed("point the rule at the queue", e))?;
    Ok(queue_url)
}

/// How often `make dev` hands an event the loyalty sync failed on back to it (Lambda's
/// asynchronous invocations: the first try and two retries) before setting it aside.
const LOYALTY_SYNC_TRIES: u32 = 3;

/// The loyalty sync as the template wires it: its rule's pattern feeding a queue that
/// is read here and handed to the function in process; an event it fails on is tried
/// again after a pause, three times in all, then goes to its dead-letter queue.
pub async fn follow_loyalty_sync(
    sdk: aws_config::SdkConfig,
    table: String,
    pattern: serde_json::Value,
    sync: loyalty_sync::LoyaltySync<
        adapters::loyalty::OpenLoyalty,
        adapters::dead_letters::SqsDeadLetters,
    >,
) {
    use domain::ports::DeadLetters;
    use platform::EventFunction;
    let (bridge, sqs) = (
        aws_sdk_eventbridge::Client::new(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
    );
    let bus = crate::event_bus_name(&table);
    let queue = format!("{bus}-loyalty-sync");
    let queues = async {
        let url = rule_to_queue(
            &bridge,
            &sqs,
            &bus,
            "loyalty-sync",
            &pattern.to_string(),
            &queue,
        )
        .await?;
        let dead = create_queue(&sqs, &format!("{queue}-dead-letters")).await?;
        Ok::<_, String>((url, dead))
    };
    let (url, dead) = match queues.await {
        Ok(urls) => urls,
        Err(e) => {
            eprintln!("local-api: no loyalty sync: {e}");
            return;
        }
    };
    let dead_letters = adapters::dead_letters::SqsDeadLetters::new(
        adapters::aws::LazyClient::ready(sqs.clone()),
        &dead,
    );
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            // No long polling: the emulator serves one request at a time, and a long
            // poll would hold every other request behind it.
            .wait_time_seconds(0)
            .visibility_timeout(2)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await;
        let messages = match received {
            Ok(out) if out.messages.as_ref().is_none_or(Vec::is_empty) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!("local-api: reading the loyalty sync queue: {e:?}");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        for message in messages {
            let body = message.body.clone().unwrap_or_default();
            let tries: u32 = message
                .attributes
                .as_ref()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let Ok(event) = serde_json::from_str::<
                aws_lambda_events::event::eventbridge::EventBridgeEvent,
            >(&body) else {
                continue;
            };
            let (kind, user) = (
                event.detail_type.clone(),
                event.detail["user_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
            let outcome = sync.handle(event).await;
            let failed = loyalty_sync::LoyaltySync::<
                adapters::loyalty::OpenLoyalty,
                adapters::dead_letters::SqsDeadLetters,
            >::failure(&outcome);
            println!(
                "loyalty-sync {kind} user={user} {}",
                serde_json::to_string(&outcome).unwrap_or_default()
            );
            if failed.is_some() && tries < LOYALTY_SYNC_TRIES {
                continue; // visible again after the pause: the retry
            }
            if let Some(reason) = failed {
                let letter = domain::ports::DeadLetter {
                    body: body.clone(),
                    reason,
                    attributes: vec![("event_type", kind), ("user_id", user)],
                };
                let _ = dead_letters.set_aside(letter).await;
                println!("loyalty-sync: given up after {tries} tries: in {dead}");
            }
            if let Some(receipt) = message.receipt_handle {
                let _ = sqs
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(receipt)
                    .send()
                    .await;
            }
        }
    }
}

/// A publisher that prints one line per event it publishes (type, user, id).
pub struct Printing<P>(pub P);

impl<P: EventPublisher> EventPublisher for Printing<P> {
    async fn publish(&self, events: &[ChangeEvent]) -> Vec<Result<(), NotPublished>> {
        let outcomes = self.0.publish(events).await;
        for (event, outcome) in events.iter().zip(&outcomes) {
            let state = if outcome.is_ok() {
                ""
            } else {
                " (not published)"
            };
            println!(
                "event {} user={} v={} id={}{state}",
                event.event_type.as_str(),
                event.user_id,
                event.version,
                event.id
            );
        }
        outcomes
    }
}

/// Follows `table`'s stream until the process ends, as the template's event source
/// mapping of the events function would.
pub async fn follow(
    sdk: aws_config::SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    dev_bus: DevBus,
    source: crate::template::StreamSource,
    give_up_after: std::time::Duration,
) {
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let poller = match crate::stream::StreamPoller::new(&dynamodb, streams, &table).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("local-api: no change events: {e}");
            return;
        }
    };
    let mut mapping = crate::stream::EventSourceMapping::new(
        poller,
        source,
        "EventsFunction",
        aws_sdk_sqs::Client::new(&sdk),
        &dev_bus.dead_letter_url,
    );
    let app = events::EventsApp {
        publisher: Printing(adapters::events::EventBridgeBus::new(
            adapters::aws::LazyClient::ready(aws_sdk_eventbridge::Client::new(&sdk)),
            dev_bus.bus,
        )),
        dead_letters: adapters::dead_letters::SqsDeadLetters::new(
            adapters::aws::LazyClient::ready(aws_sdk_sqs::Client::new(&sdk)),
            &dev_bus.dead_letter_url,
        ),
        give_up_after,
        clock: domain::Clock::system(),
    };
    loop {
        match mapping.pump(&app).await {
            Ok(delivery) => {
                for sequence in &delivery.dead_lettered {
                    println!(
                        "event record {sequence} given up after its retries: in {}",
                        dev_bus.dead_letter_url
                    );
                }
                if delivery.read == 0 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            Err(e) => {
                eprintln!("local-api: reading the stream: {e}");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}
