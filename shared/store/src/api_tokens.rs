//! API token records, keyed by the token's SHA-256.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::StoreError;
use crate::batch::query_partition;
use crate::item::Item;
use crate::keys::{ItemKey, PK, SK};
use domain::api_token::{ApiToken, ApiTokenSecret};

crate::table_store! {
    #[derive(Clone, Debug)]
    ApiTokenStore
}

impl ApiTokenStore {
    /// One GetItem by hash.
    pub async fn find(&self, secret: &ApiTokenSecret) -> Result<Option<ApiToken>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::api_token(&secret.hash()).to_item()))
            .consistent_read(true)
            .send()
            .await?;
        out.item
            .map(serde_dynamo::from_item)
            .transpose()
            .map_err(Into::into)
    }

    pub async fn create(
        &self,
        secret: &ApiTokenSecret,
        token: &ApiToken,
    ) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(token)?;
        item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
        item.extend(ItemKey::api_token(&secret.hash()).to_item());
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await?;
        Ok(())
    }

    /// Every token record with its key (for revoking by id).
    pub async fn list(&self) -> Result<Vec<(ItemKey, ApiToken)>, StoreError> {
        let items =
            query_partition(&self.client, &self.table, ItemKey::api_tokens_partition()).await?;
        let mut out = Vec::new();
        for item in items {
            let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                (item.get(PK), item.get(SK))
            else {
                continue;
            };
            let key = ItemKey {
                pk: pk.clone(),
                sk: sk.clone(),
            };
            out.push((key, serde_dynamo::from_item(item)?));
        }
        Ok(out)
    }

    /// Marks the token revoked; `false` when no token has that id.
    pub async fn revoke(&self, token_id: &str) -> Result<bool, StoreError> {
        let Some((key, _)) = self
            .list()
            .await?
            .into_iter()
            .find(|(_, t)| t.token_id == token_id)
        else {
            return Ok(false);
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await?;
        Ok(true)
    }
}
