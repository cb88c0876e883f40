//! What operators rely on in template.yaml: every function logs to a group with the
//! stack's retention and has error and throttle alarms (one list drives both), and every
//! alarm notifies the alarm topic.

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

#[test]
fn every_function_has_its_log_group_and_alarms() {
    let doc = template();
    let resources = doc["Resources"].as_mapping().unwrap();
    let functions: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, _)| id.as_str().unwrap().trim_end_matches("Function").to_owned())
        .collect();
    let each = &doc["Resources"]["Fn::ForEach::Functions"];
    let listed: BTreeSet<String> = each[1]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed, functions,
        "Fn::ForEach::Functions lists every function"
    );
    let generated = each[2].as_mapping().unwrap();
    for key in ["${Fn}LogGroup", "${Fn}ErrorsAlarm", "${Fn}ThrottlesAlarm"] {
        assert!(generated.contains_key(key), "{key}");
    }
    assert_eq!(
        generated["${Fn}LogGroup"]["Properties"]["RetentionInDays"],
        tagged("Ref", "LogRetentionDays")
    );
    for f in &functions {
        let config =
            &doc["Resources"][format!("{f}Function").as_str()]["Properties"]["LoggingConfig"];
        assert_eq!(
            config["LogGroup"],
            tagged("Ref", &format!("{f}LogGroup")),
            "{f} logs to its group"
        );
    }
    let globals = &doc["Globals"]["Function"]["LoggingConfig"];
    assert_eq!(globals["LogFormat"], "JSON");
}

#[test]
fn every_alarm_notifies_the_alarm_topic() {
    let doc = template();
    let mut alarms = 0;
    let topic = tagged("Ref", "AlarmTopic");
    let mut check = |id: &str, resource: &Value| {
        if resource["Type"] == "AWS::CloudWatch::Alarm" {
            alarms += 1;
            let actions = resource["Properties"]["AlarmActions"].as_sequence();
            assert!(
                actions.is_some_and(|a| a.contains(&topic)),
                "{id} notifies AlarmTopic"
            );
        }
    };
    for (id, resource) in doc["Resources"].as_mapping().unwrap() {
        check(id.as_str().unwrap(), resource);
    }
    for (id, resource) in doc["Resources"]["Fn::ForEach::Functions"][2]
        .as_mapping()
        .unwrap()
    {
        check(id.as_str().unwrap(), resource);
    }
    assert!(alarms >= 6, "{alarms} alarms");
}
