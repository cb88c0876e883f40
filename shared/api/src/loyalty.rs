//! A loyalty card as seed 000's loyalty routes show it: the card we keep, and the
//! platform's points and tier when it answered in time (`null` otherwise).

use domain::loyalty::{LoyaltyCard, Standing};
use serde::Serialize;
use serde_json::{Map, Value};

/// Takes seed 000's `add_loyalty` out of a body: absent or null is `false`.
pub fn take_add_loyalty(body: &mut Map<String, Value>) -> Result<bool, &'static str> {
    match body.remove("add_loyalty") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(_) => Err("must be true or false"),
    }
}

#[derive(Serialize)]
pub struct CardBody<'a> {
    pub number: &'a str,
    pub status: &'static str,
    pub linked_at: &'a str,
    pub points: Option<f64>,
    pub tier: Option<String>,
}

impl<'a> CardBody<'a> {
    pub fn of(card: &'a LoyaltyCard, standing: Option<Standing>) -> Self {
        let standing = standing.unwrap_or_default();
        Self {
            number: card.number.as_str(),
            status: card.status.as_str(),
            linked_at: &card.linked_at,
            points: standing.points,
            tier: standing.tier,
        }
    }
}
