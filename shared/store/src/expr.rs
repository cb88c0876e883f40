//! Builds DynamoDB update and condition expressions with placeholder names and values,
//! so user-chosen attribute keys never reach expression syntax.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

#[derive(Debug, Default)]
pub struct Expression {
    set: Vec<String>,
    remove: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    /// A placeholder for an attribute name (`#n3`), reused per distinct name.
    pub fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| *n == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    /// A placeholder for a value (`:v3`).
    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// `SET <path> = <rhs>`; `rhs` is already written with placeholders.
    pub fn set_raw(&mut self, path: String, rhs: String) {
        self.set.push(format!("{path} = {rhs}"));
    }

    pub fn set(&mut self, attribute: &str, value: AttributeValue) {
        let path = self.name(attribute);
        let rhs = self.value(value);
        self.set_raw(path, rhs);
    }

    /// `SET <counter> = if_not_exists(<counter>, 0) + 1`: the write counts itself in
    /// the item it writes. Returns the counter's placeholder.
    pub fn count_write(&mut self, counter: &str) -> String {
        let path = self.name(counter);
        let zero = self.value(AttributeValue::N("0".into()));
        let one = self.value(AttributeValue::N("1".into()));
        self.set_raw(
            path.clone(),
            format!("if_not_exists({path}, {zero}) + {one}"),
        );
        path
    }

    pub fn remove(&mut self, path: String) {
        self.remove.push(path);
    }

    /// Adds a clause; all clauses must hold (AND).
    pub fn condition(&mut self, clause: String) {
        self.conditions.push(clause);
    }

    pub fn update_expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        parts.join(" ")
    }

    pub fn condition_expression(&self) -> Option<String> {
        (!self.conditions.is_empty()).then(|| {
            self.conditions
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" AND ")
        })
    }

    pub fn build(self) -> Built {
        Built {
            update: self.update_expression(),
            condition: self.condition_expression(),
            values: (!self.values.is_empty()).then_some(self.values),
            names: self.names,
        }
    }
}

/// The strings and maps an UpdateItem request takes.
pub struct Built {
    pub update: String,
    pub condition: Option<String>,
    pub names: HashMap<String, String>,
    pub values: Option<HashMap<String, AttributeValue>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_placeholders_and_clauses() {
        let mut e = Expression::default();
        e.set("first_name", AttributeValue::S("Ada".into()));
        let attrs = e.name("attributes");
        let key = e.name("tier");
        e.remove(format!("{attrs}.{key}"));
        e.condition(format!("attribute_exists({attrs})"));
        assert_eq!(e.update_expression(), "SET #n0 = :v0 REMOVE #n1.#n2");
        assert_eq!(e.condition_expression().unwrap(), "(attribute_exists(#n1))");
        assert_eq!(e.name("attributes"), "#n1");
    }
}
