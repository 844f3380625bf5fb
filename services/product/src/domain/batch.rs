//! [`BatchLookup`]: the ids a BatchGetProducts call asks for, and how its answer is assembled.

use std::collections::{HashMap, HashSet};

use sagaway_platform::status::Violation;
use uuid::Uuid;

use super::Product;
use crate::error::Error;

/// The most ids one call may ask for.
pub const MAX_IDS: usize = 100;

/// The ids of one BatchGetProducts call, as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLookup {
    /// Each distinct requested string, first occurrence first, with its id when it is a UUID.
    requested: Vec<(String, Option<Uuid>)>,
}

impl BatchLookup {
    /// Accepts up to [`MAX_IDS`] ids; duplicates and malformed ids are allowed.
    pub fn parse(product_ids: Vec<String>) -> Result<Self, Error> {
        if product_ids.len() > MAX_IDS {
            let why = format!("must hold at most {MAX_IDS} ids, not {}", product_ids.len());
            return Err(Error::InvalidArgument(vec![Violation::new(
                "product_ids",
                why,
            )]));
        }
        let mut seen = HashSet::new();
        let requested = product_ids
            .into_iter()
            .filter(|raw| seen.insert(raw.clone()))
            .map(|raw| {
                let id = Uuid::parse_str(raw.trim()).ok();
                (raw, id)
            })
            .collect();
        Ok(Self { requested })
    }

    /// The distinct well-formed ids to look up.
    pub fn ids(&self) -> Vec<Uuid> {
        let mut seen = HashSet::new();
        self.requested
            .iter()
            .filter_map(|(_, id)| *id)
            .filter(|id| seen.insert(*id))
            .collect()
    }

    /// The products found, in the order their ids were first asked for, and the requested ids
    /// that matched none (malformed ones included), in request order, without duplicates.
    pub fn answer(self, found: Vec<Product>) -> (Vec<Product>, Vec<String>) {
        let mut found: HashMap<Uuid, Product> = found.into_iter().map(|p| (p.id, p)).collect();
        let mut answered = HashSet::new();
        let mut products = Vec::new();
        let mut missing = Vec::new();
        for (raw, id) in self.requested {
            match id {
                // Another spelling of an id already answered (e.g. upper-case).
                Some(id) if answered.contains(&id) => {}
                Some(id) if found.contains_key(&id) => {
                    products.extend(found.remove(&id));
                    answered.insert(id);
                }
                _ => missing.push(raw),
            }
        }
        (products, missing)
    }
}

#[cfg(test)]
mod tests {
    use sagaway_platform::money::{Currency, Money};
    use sqlx::types::chrono::Utc;

    use super::*;

    fn product(id: Uuid) -> Product {
        Product {
            id,
            sku: format!("SKU-{}", id.simple()),
            name: "P".into(),
            description: String::new(),
            price: Money::new(100, Currency::EUR),
            available: 1,
            reserved: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn found_products_follow_the_request_order_and_the_rest_are_missing_once() {
        let (a, b, unknown) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let asked = [b, a, unknown].map(|id| id.to_string());
        let request = vec![
            asked[0].clone(),
            "not-a-uuid".into(),
            asked[1].clone(),
            asked[0].clone(),
            asked[2].clone(),
            "not-a-uuid".into(),
            asked[1].to_uppercase(),
        ];
        let lookup = BatchLookup::parse(request).expect("valid");
        assert_eq!(lookup.ids(), [b, a, unknown]);
        let (products, missing) = lookup.answer(vec![product(a), product(b)]);
        assert_eq!(products.iter().map(|p| p.id).collect::<Vec<_>>(), [b, a]);
        assert_eq!(missing, ["not-a-uuid".to_owned(), asked[2].clone()]);
    }

    #[test]
    fn more_than_100_ids_are_refused() {
        assert!(BatchLookup::parse(vec![String::new(); 100]).is_ok());
        match BatchLookup::parse(vec![String::new(); 101]) {
            Err(Error::InvalidArgument(violations)) => {
                assert_eq!(violations[0].field, "product_ids")
            }
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }
}
