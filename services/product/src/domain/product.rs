//! Products and the requests that create and restock them: [`Product`], [`NewProduct`],
//! [`Restock`], and who may change the catalogue.

use sagaway_contracts::pb::product as pb;
use sagaway_platform::identity::Identity;
use sagaway_platform::money::{Currency, Money};
use sagaway_platform::paging::Cursor;
use sagaway_platform::status::Violation;
use sqlx::types::chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Description, ProductName, Sku};
use crate::error::Error;

/// A product as stored, with its current stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The product's id.
    pub id: Uuid,
    /// The merchant's code.
    pub sku: String,
    /// The display name.
    pub name: String,
    /// The free-text description.
    pub description: String,
    /// The price of one unit.
    pub price: Money,
    /// Units new orders can reserve.
    pub available: i64,
    /// Units held for orders awaiting payment.
    pub reserved: i64,
    /// When the product was created.
    pub created_at: DateTime<Utc>,
    /// When the product or its stock last changed.
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// Where this product sits in the oldest-first list.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A number of units greater than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    /// Checks that `units` is positive.
    pub fn positive(units: i64) -> Result<Self, &'static str> {
        if units > 0 {
            Ok(Self(units))
        } else {
            Err("must be greater than zero")
        }
    }

    /// The number of units.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A product to add to the catalogue, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// The merchant's code.
    pub sku: Sku,
    /// The display name.
    pub name: ProductName,
    /// The description.
    pub description: Description,
    /// A positive price in the system currency.
    pub price: Money,
    /// The initial stock, zero or more.
    pub available: i64,
}

impl NewProduct {
    /// Checks a CreateProduct request against the system currency, reporting every bad field.
    /// Server-assigned fields (id, times) are ignored.
    pub fn parse(request: pb::CreateProductRequest, system: Currency) -> Result<Self, Error> {
        let Some(product) = request.product else {
            return Err(Error::InvalidArgument(vec![Violation::new(
                "product",
                "is required",
            )]));
        };
        let field = |name: &str| format!("product.{name}");
        let sku = Sku::parse(&product.sku).map_err(|why| Violation::new(field("sku"), why));
        let name =
            ProductName::parse(&product.name).map_err(|why| Violation::new(field("name"), why));
        let description = Description::parse(&product.description)
            .map_err(|why| Violation::new(field("description"), why));
        let stock = product.stock.unwrap_or_default();
        let available = match stock.available {
            units if units < 0 => Err(Violation::new(
                field("stock.available"),
                "must not be negative",
            )),
            units => Ok(units),
        };
        let reserved = match stock.reserved {
            0 => Ok(()),
            _ => Err(Violation::new(
                field("stock.reserved"),
                "must be 0 for a new product",
            )),
        };
        let price = match product.price {
            None => Err(vec![Violation::new(field("price"), "is required")]),
            Some(price) => Money::positive(price.amount_minor, &price.currency_code, system)
                .map_err(|errors| {
                    errors
                        .iter()
                        .map(|err| err.violation(&field("price")))
                        .collect()
                }),
        };
        match (sku, name, description, available, reserved, price) {
            (Ok(sku), Ok(name), Ok(description), Ok(available), Ok(()), Ok(price)) => Ok(Self {
                sku,
                name,
                description,
                price,
                available,
            }),
            (sku, name, description, available, reserved, price) => Err(Error::InvalidArgument(
                [
                    sku.err(),
                    name.err(),
                    description.err(),
                    available.err(),
                    reserved.err(),
                ]
                .into_iter()
                .flatten()
                .chain(price.err().into_iter().flatten())
                .collect(),
            )),
        }
    }
}

/// A restock that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restock {
    /// The product to restock.
    pub product_id: Uuid,
    /// The units to add to `available`.
    pub quantity: Quantity,
}

impl TryFrom<&pb::RestockProductRequest> for Restock {
    type Error = Error;

    fn try_from(request: &pb::RestockProductRequest) -> Result<Self, Error> {
        let product_id = parse_product_id(&request.product_id);
        let quantity =
            Quantity::positive(request.quantity).map_err(|why| Violation::new("quantity", why));
        match (product_id, quantity) {
            (Ok(product_id), Ok(quantity)) => Ok(Self {
                product_id,
                quantity,
            }),
            (product_id, quantity) => Err(Error::InvalidArgument(
                [product_id.err(), quantity.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            )),
        }
    }
}

/// Reads a `product_id` request field.
pub fn parse_product_id(raw: &str) -> Result<Uuid, Violation> {
    Uuid::parse_str(raw.trim()).map_err(|_| Violation::new("product_id", "must be a UUID"))
}

/// A caller checked to hold the admin role: the proof, in the type, that they may change the
/// catalogue and stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(Identity);

impl Admin {
    /// PERMISSION_DENIED unless `caller` is an admin.
    pub fn verify(caller: Identity) -> Result<Self, Error> {
        if caller.is_admin() {
            Ok(Self(caller))
        } else {
            Err(Error::AdminOnly)
        }
    }

    /// The admin's user id, for the log.
    pub fn user_id(&self) -> Uuid {
        self.0.user_id
    }
}

#[cfg(test)]
mod tests {
    use sagaway_contracts::pb::common::Money as PbMoney;

    use super::*;

    fn request(edit: impl FnOnce(&mut pb::Product)) -> pb::CreateProductRequest {
        let mut product = pb::Product {
            sku: "SAGA-MUG".into(),
            name: "Mug".into(),
            price: Some(PbMoney {
                amount_minor: 1290,
                currency_code: "EUR".into(),
            }),
            stock: Some(pb::Stock {
                available: 5,
                reserved: 0,
            }),
            ..Default::default()
        };
        edit(&mut product);
        pb::CreateProductRequest {
            product: Some(product),
        }
    }

    fn violated_fields(result: Result<NewProduct, Error>) -> Vec<String> {
        match result {
            Err(Error::InvalidArgument(violations)) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_product_parses_and_a_missing_stock_means_none_yet() {
        let parsed = NewProduct::parse(request(|p| p.stock = None), Currency::EUR).expect("valid");
        assert_eq!((parsed.sku.as_str(), parsed.available), ("SAGA-MUG", 0));
        assert_eq!(parsed.price, Money::new(1290, Currency::EUR));
    }

    #[test]
    fn every_bad_field_of_a_new_product_is_reported() {
        let everything_wrong = request(|p| {
            p.sku = String::new();
            p.name = " ".into();
            p.description = "d".repeat(2001);
            p.price = Some(PbMoney {
                amount_minor: 0,
                currency_code: "USD".into(),
            });
            p.stock = Some(pb::Stock {
                available: -1,
                reserved: 2,
            });
        });
        assert_eq!(
            violated_fields(NewProduct::parse(everything_wrong, Currency::EUR)),
            [
                "product.sku",
                "product.name",
                "product.description",
                "product.stock.available",
                "product.stock.reserved",
                "product.price.currency_code",
                "product.price.amount_minor",
            ]
        );
        let no_price = request(|p| p.price = None);
        assert_eq!(
            violated_fields(NewProduct::parse(no_price, Currency::EUR)),
            ["product.price"]
        );
        let nothing = pb::CreateProductRequest { product: None };
        assert_eq!(
            violated_fields(NewProduct::parse(nothing, Currency::EUR)),
            ["product"]
        );
    }

    #[test]
    fn only_admins_pass_as_admins() {
        use sagaway_platform::identity::Role;
        let caller = |roles| Identity {
            user_id: Uuid::new_v4(),
            roles,
            session_id: None,
        };
        assert!(matches!(
            Admin::verify(caller(vec![Role::Customer])),
            Err(Error::AdminOnly)
        ));
        assert!(Admin::verify(caller(vec![Role::Customer, Role::Admin])).is_ok());
    }

    #[test]
    fn a_restock_needs_a_product_id_and_a_positive_quantity() {
        let bad = pb::RestockProductRequest {
            product_id: "nope".into(),
            quantity: 0,
        };
        match Restock::try_from(&bad) {
            Err(Error::InvalidArgument(violations)) => {
                let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
                assert_eq!(fields, ["product_id", "quantity"]);
            }
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
        let id = Uuid::new_v4();
        let good = pb::RestockProductRequest {
            product_id: id.to_string(),
            quantity: 3,
        };
        assert_eq!(Restock::try_from(&good).expect("valid").quantity.get(), 3);
    }
}
