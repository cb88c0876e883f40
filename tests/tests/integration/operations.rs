//! What operators rely on in template.yaml: every function logs to a group with the
//! stack's retention and has error and throttle alarms, every stream consumer and
//! dead-letter queue is alarmed, the dashboard shows all of them, and every alarm
//! notifies the alarm topic. tools/iac/template.py writes those resources; these tests
//! read the template as CloudFormation will, whoever wrote it.

use std::collections::BTreeSet;

use serde_norway::Value;

fn template() -> Value {
    let text =
        std::fs::read_to_string(integration_tests::workspace_root().join("template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn tagged(tag: &str, value: &str) -> Value {
    serde_norway::from_str(&format!("!{tag} {value}")).unwrap()
}

/// Logical ids of the resources of one type, with `suffix` taken off.
fn stems(doc: &Value, kind: &str, suffix: &str) -> BTreeSet<String> {
    doc["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, _)| {
            let id = id.as_str().unwrap();
            id.strip_suffix(suffix)
                .unwrap_or_else(|| panic!("{id} ends in {suffix}"))
                .to_owned()
        })
        .collect()
}

/// The alarm `id` watches `metric` of the resource `dimension` names.
fn assert_alarm(doc: &Value, id: &str, metric: &str, dimension: &Value) {
    let alarm = &doc["Resources"][id];
    assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm", "{id}");
    assert_eq!(alarm["Properties"]["MetricName"], metric, "{id}");
    assert_eq!(
        &alarm["Properties"]["Dimensions"][0]["Value"], dimension,
        "{id}"
    );
}

fn functions(doc: &Value) -> BTreeSet<String> {
    stems(doc, "AWS::Serverless::Function", "Function")
}

/// The functions reading a stream (a DynamoDB or Kinesis event source).
fn stream_consumers(doc: &Value) -> BTreeSet<String> {
    functions(doc)
        .into_iter()
        .filter(|f| {
            doc["Resources"][format!("{f}Function").as_str()]["Properties"]["Events"]
                .as_mapping()
                .is_some_and(|events| {
                    events
                        .values()
                        .any(|e| e["Type"] == "DynamoDB" || e["Type"] == "Kinesis")
                })
        })
        .collect()
}

#[test]
fn every_function_has_its_log_group_and_alarms() {
    let doc = template();
    let functions = functions(&doc);
    assert_eq!(functions.len(), 12, "{functions:?}");
    for f in &functions {
        let group = &doc["Resources"][format!("{f}LogGroup").as_str()];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup", "{f}");
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            tagged("Ref", "LogRetentionDays")
        );
        let config =
            &doc["Resources"][format!("{f}Function").as_str()]["Properties"]["LoggingConfig"];
        assert_eq!(
            config["LogGroup"],
            tagged("Ref", &format!("{f}LogGroup")),
            "{f} logs to its group"
        );
        let function = tagged("Ref", &format!("{f}Function"));
        assert_alarm(&doc, &format!("{f}ErrorsAlarm"), "Errors", &function);
        assert_alarm(&doc, &format!("{f}ThrottlesAlarm"), "Throttles", &function);
    }
    let globals = &doc["Globals"]["Function"]["LoggingConfig"];
    assert_eq!(globals["LogFormat"], "JSON");
}

#[test]
fn every_stream_consumer_and_dead_letter_queue_is_alarmed() {
    let doc = template();
    let consumers = stream_consumers(&doc);
    assert!(consumers.contains("Events"), "{consumers:?}");
    for c in &consumers {
        let function = tagged("Ref", &format!("{c}Function"));
        assert_alarm(
            &doc,
            &format!("{c}IteratorAgeAlarm"),
            "IteratorAge",
            &function,
        );
    }
    let queues = stems(&doc, "AWS::SQS::Queue", "DeadLetterQueue");
    assert!(queues.contains("LoyaltySyncRule"), "{queues:?}");
    for q in &queues {
        let queue = tagged("GetAtt", &format!("{q}DeadLetterQueue.QueueName"));
        assert_alarm(
            &doc,
            &format!("{q}DeadLetterAlarm"),
            "ApproximateNumberOfMessagesVisible",
            &queue,
        );
    }
}

/// The dashboard's metrics, as (widget title, the `${...}` it names) pairs.
fn dashboard(doc: &Value) -> Vec<(String, String)> {
    let Value::Tagged(sub) = &doc["Resources"]["Dashboard"]["Properties"]["DashboardBody"] else {
        panic!("DashboardBody is a !Sub");
    };
    let body = sub.value.as_str().unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    let mut named = Vec::new();
    for widget in body["widgets"].as_array().unwrap() {
        let title = widget["properties"]["title"].as_str().unwrap();
        for metric in widget["properties"]["metrics"].as_array().unwrap() {
            for part in metric.as_array().unwrap() {
                if let Some(s) = part.as_str().filter(|s| s.starts_with("${")) {
                    named.push((title.to_owned(), s.to_owned()));
                }
            }
        }
    }
    named
}

#[test]
fn the_dashboard_shows_every_function_queue_and_consumer() {
    let doc = template();
    let shown = dashboard(&doc);
    let has = |title: &str, name: String| {
        assert!(
            shown.contains(&(title.to_owned(), name.clone())),
            "{title} shows {name}"
        )
    };
    for f in functions(&doc) {
        for title in [
            "Function errors",
            "Function throttles",
            "Function duration p99 (ms)",
        ] {
            has(title, format!("${{{f}Function}}"));
        }
    }
    for q in stems(&doc, "AWS::SQS::Queue", "DeadLetterQueue") {
        has(
            "Dead-letter queues (messages waiting)",
            format!("${{{q}DeadLetterQueue.QueueName}}"),
        );
    }
    for c in stream_consumers(&doc) {
        has(
            "Stream consumers' iterator age (ms)",
            format!("${{{c}Function}}"),
        );
    }
}

#[test]
fn every_alarm_notifies_the_alarm_topic() {
    let doc = template();
    let topic = tagged("Ref", "AlarmTopic");
    let mut alarms = 0;
    for (id, resource) in doc["Resources"].as_mapping().unwrap() {
        if resource["Type"] == "AWS::CloudWatch::Alarm" {
            alarms += 1;
            let actions = resource["Properties"]["AlarmActions"].as_sequence();
            assert!(
                actions.is_some_and(|a| a.contains(&topic)),
                "{id:?} notifies AlarmTopic"
            );
        }
    }
    assert!(alarms >= 30, "{alarms} alarms");
}

/// The SAM CLI cannot build `Fn::ForEach` (its translator takes every entry of
/// Resources for a resource): `sam build` stopped on it once while every test passed.
#[test]
fn the_template_uses_nothing_the_sam_cli_cannot_build() {
    let text =
        std::fs::read_to_string(integration_tests::workspace_root().join("template.yaml")).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(doc["Transform"], "AWS::Serverless-2016-10-31");
    for (id, _) in doc["Resources"].as_mapping().unwrap() {
        assert!(!id.as_str().unwrap().starts_with("Fn::"), "{id:?}");
    }
}

/// Every request is logged (no header or body), the API is throttled by default and
/// tighter on the routes that spend a hash or a text, the bucket that holds exports logs
/// who fetched them, and the loyalty rule sets aside what it cannot deliver.
#[test]
fn the_edge_logs_throttles_and_sets_aside() {
    let doc = template();
    let api = &doc["Resources"]["HttpApi"]["Properties"];
    let format = api["AccessLogSettings"]["Format"].as_str().unwrap();
    let format: serde_json::Value = serde_json::from_str(format).unwrap();
    for (field, variable) in [
        ("requestId", "$context.requestId"),
        ("sourceIp", "$context.identity.sourceIp"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("responseLatency", "$context.responseLatency"),
        ("integrationError", "$context.integrationErrorMessage"),
        ("authorizerError", "$context.authorizer.error"),
    ] {
        assert_eq!(format[field], variable, "{field}");
    }
    let log_group = &doc["Resources"]["ApiAccessLogGroup"]["Properties"]["RetentionInDays"];
    assert_eq!(log_group, &tagged("Ref", "LogRetentionDays"));
    assert_eq!(
        api["DefaultRouteSettings"]["ThrottlingRateLimit"],
        tagged("Ref", "ApiRateLimit")
    );

    // Every tighter setting names a route the API has (API Gateway refuses a stage
    // whose settings name a route it lacks), and every anonymous route that spends a
    // hash or a text has one.
    let routes: BTreeSet<String> = integration_tests::template()
        .routes
        .iter()
        .map(|r| r.key())
        .collect();
    let tight: BTreeSet<String> = api["RouteSettings"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(key, settings)| {
            assert_eq!(
                settings["ThrottlingRateLimit"],
                tagged("Ref", "CredentialRouteRateLimit")
            );
            key.as_str().unwrap().to_owned()
        })
        .collect();
    let unknown: Vec<_> = tight.difference(&routes).collect();
    assert!(
        unknown.is_empty(),
        "settings for routes the API lacks: {unknown:?}"
    );
    for key in [
        "POST /auth/login",
        "POST /users/register",
        "POST /users/register-with-loyalty",
        "POST /api/v1/accounts/users",
        "POST /users/verify",
        "PATCH /users/profile",
        "DELETE /users/me",
        "PATCH /api/v1/accounts/users/{user_id}",
        "POST /api/v1/users/delete",
    ] {
        assert!(tight.contains(key), "{key} is throttled tighter");
    }

    let logging = &doc["Resources"]["AvatarBucket"]["Properties"]["LoggingConfiguration"];
    assert_eq!(
        logging["DestinationBucketName"],
        tagged("Ref", "AccessLogBucket")
    );
    let expiry = &doc["Resources"]["AccessLogBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        [0]["ExpirationInDays"];
    assert_eq!(expiry, &tagged("Ref", "AccessLogRetentionDays"));

    let rule = &doc["Resources"]["LoyaltySyncFunction"]["Properties"]["Events"]["CardHolderChanges"]
        ["Properties"];
    assert_eq!(
        rule["DeadLetterConfig"]["Arn"],
        tagged("GetAtt", "LoyaltySyncRuleDeadLetterQueue.Arn")
    );
    assert!(rule["RetryPolicy"]["MaximumEventAgeInSeconds"].is_u64());
}

/// Whether a function's policies let it publish to SNS (send a text).
fn may_text(doc: &Value, function: &str) -> bool {
    let allows = |statement: &Value| {
        statement["Effect"] == "Allow"
            && match &statement["Action"] {
                Value::String(a) => a == "sns:Publish",
                Value::Sequence(list) => list.iter().any(|a| a == "sns:Publish"),
                _ => false,
            }
    };
    doc["Resources"][format!("{function}Function").as_str()]["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|policy| policy["Statement"].as_sequence())
        .flatten()
        .any(allows)
}

/// The hourly SMS cap is shared by every function that texts, and any of them may be the
/// one that reaches it: each one's log group counts the line the alarm watches.
#[test]
fn every_function_that_texts_counts_the_sms_cap() {
    let doc = template();
    let texting: Vec<String> = functions(&doc)
        .into_iter()
        .filter(|f| may_text(&doc, f))
        .collect();
    for f in ["Profile", "Accounts", "Privacy"] {
        assert!(texting.iter().any(|t| t == f), "{f} texts: {texting:?}");
    }
    let pattern = format!("\"{}\"", usecases::SMS_CAP_ALARM);
    for f in &texting {
        let filter = &doc["Resources"][format!("{f}SmsCapFilter").as_str()];
        assert_eq!(filter["Type"], "AWS::Logs::MetricFilter", "{f}SmsCapFilter");
        let p = &filter["Properties"];
        assert_eq!(p["LogGroupName"], tagged("Ref", &format!("{f}LogGroup")));
        assert_eq!(p["FilterPattern"], pattern.as_str());
        assert_eq!(
            p["MetricTransformations"][0]["MetricName"],
            doc["Resources"]["SmsHourlyCapAlarm"]["Properties"]["MetricName"]
        );
    }
}
