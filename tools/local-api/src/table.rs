//! Creates the service table on an emulator from template.yaml's own definition.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

use crate::template::TableDef;

/// Creates `name` shaped like `def` unless it exists; sets its TTL attribute.
pub async fn ensure_table(client: &Client, name: &str, def: &TableDef) -> Result<(), String> {
    let mut create = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(|e| e.to_string())?,
        );
    for key in &def.keys {
        create = create
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&key.name)
                    .attribute_type(ScalarAttributeType::from(key.attribute_type.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(&key.name)
                    .key_type(KeyType::from(key.key_type.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?,
            );
    }
    match create.send().await {
        Ok(_) => {}
        Err(err) => {
            let in_use = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception());
            if !in_use {
                return Err(format!(
                    "cannot create table {name}: {}",
                    DisplayErrorContext(&err)
                ));
            }
            return Ok(());
        }
    }
    if let Some(attribute) = &def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| format!("cannot enable TTL on {name}: {}", DisplayErrorContext(&e)))?;
    }
    Ok(())
}
