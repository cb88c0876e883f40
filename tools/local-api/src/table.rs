//! Creates what the template would on an emulator: the table, from template.yaml's own
//! definition, and the generated OTP secret.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
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
    let mut defined: Vec<&str> = def.keys.iter().map(|k| k.name.as_str()).collect();
    for index in &def.indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(&index.name)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::from(index.projection.as_str()))
                    .build(),
            );
        for key in &index.keys {
            gsi = gsi.key_schema(
                KeySchemaElement::builder()
                    .attribute_name(&key.name)
                    .key_type(KeyType::from(key.key_type.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?,
            );
            if !defined.contains(&key.name.as_str()) {
                defined.push(&key.name);
                create = create.attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(&key.name)
                        .attribute_type(ScalarAttributeType::from(key.attribute_type.as_str()))
                        .build()
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        create = create.global_secondary_indexes(gsi.build().map_err(|e| e.to_string())?);
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

/// Creates the OTP HMAC secret `name` with a random value unless it exists, as the
/// template's `GenerateSecretString` does in AWS.
pub async fn ensure_otp_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<(), String> {
    use rand::distr::{Alphanumeric, SampleString};
    ensure_secret(
        client,
        name,
        Alphanumeric.sample_string(&mut rand::rng(), 64),
    )
    .await
}

/// The access-token signing secret, holding the committed dev key.
pub async fn ensure_signing_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<(), String> {
    ensure_secret(client, name, crate::dev_token::dev_signing_secret()).await
}

/// The stand-in loyalty platform's API key.
pub async fn ensure_loyalty_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<(), String> {
    ensure_secret(client, name, crate::DEV_LOYALTY_API_KEY.to_owned()).await
}

/// Creates the secret `name` with `value` unless it exists.
async fn ensure_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: String,
) -> Result<(), String> {
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await;
    unless_it_exists(created, |e| e.is_resource_exists_exception())
        .map_err(|e| format!("cannot create secret {name}: {e}"))
}

/// Verifies `address` as an SES sender identity (the emulator, like SES, refuses mail
/// from an unverified one).
pub async fn ensure_email_identity(
    client: &aws_sdk_sesv2::Client,
    address: &str,
) -> Result<(), String> {
    let created = client
        .create_email_identity()
        .email_identity(address)
        .send()
        .await;
    unless_it_exists(created, |e| e.is_already_exists_exception())
        .map_err(|e| format!("cannot verify sender {address}: {e}"))
}

/// The avatar bucket, readable without a signature as the CDN makes it in AWS, so an
/// `avatar_url` opens in a browser under `make dev`.
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), String> {
    let created = client.create_bucket().bucket(bucket).send().await;
    unless_it_exists(created, |e| {
        e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
    })
    .map_err(|e| format!("cannot create bucket {bucket}: {e}"))?;
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/avatars/*"),
        }],
    });
    client
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot open bucket {bucket} for reading: {e}"))
}

/// A create call's result where "it exists already" counts as done.
fn unless_it_exists<T, E, R>(
    result: Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
    exists: impl Fn(&E) -> bool,
) -> Result<(), String>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(exists) => Ok(()),
        Err(err) => Err(aws_smithy_types::error::display::DisplayErrorContext(&err).to_string()),
    }
}
