//! Accounts and what may be done to them: [`User`], the requests that create and change one
//! ([`NewUser`], [`TopUp`]), and who may act on whom.

use sagaway_contracts::pb::user as pb;
use sagaway_platform::identity::{Identity, Role};
use sagaway_platform::money::{Currency, Money};
use sagaway_platform::paging::Cursor;
use sagaway_platform::status::Violation;
use sqlx::types::chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DisplayName, Email, Password};
use crate::error::Error;

/// An account as stored, without its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account's id.
    pub id: Uuid,
    /// The normalized sign-in email.
    pub email: String,
    /// The name shown to people.
    pub display_name: String,
    /// What the user may do.
    pub roles: Vec<Role>,
    /// The prepaid balance; never negative.
    pub balance: Money,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The balance after adding `amount`: FAILED_PRECONDITION when the balance is kept in
    /// another currency (the system currency changed after the account was opened) or would
    /// overflow.
    pub fn credit(&self, amount: Money) -> Result<Money, Error> {
        if amount.currency() != self.balance.currency() {
            return Err(Error::CurrencyMismatch {
                balance: self.balance.currency(),
                amount: amount.currency(),
            });
        }
        self.balance
            .checked_add(amount)
            .ok_or(Error::BalanceOverflow)
    }

    /// Where this account sits in the oldest-first list.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A registration that passed validation.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The normalized email.
    pub email: Email,
    /// The chosen password.
    pub password: Password,
    /// The name to show.
    pub display_name: DisplayName,
}

impl TryFrom<pb::RegisterUserRequest> for NewUser {
    type Error = Error;

    /// Checks every field and reports each bad one as its own violation.
    fn try_from(request: pb::RegisterUserRequest) -> Result<Self, Error> {
        let email = Email::parse(&request.email).map_err(|why| Violation::new("email", why));
        let password =
            Password::parse(&request.password).map_err(|why| Violation::new("password", why));
        let display_name = DisplayName::parse(&request.display_name)
            .map_err(|why| Violation::new("display_name", why));
        match (email, password, display_name) {
            (Ok(email), Ok(password), Ok(display_name)) => Ok(Self {
                email,
                password,
                display_name,
            }),
            (email, password, display_name) => Err(Error::InvalidArgument(
                [email.err(), password.err(), display_name.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            )),
        }
    }
}

/// A top-up that passed validation: a positive amount in the system currency for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopUp {
    /// The user whose balance grows.
    pub user_id: Uuid,
    /// What to add.
    pub amount: Money,
}

impl TopUp {
    /// Checks the request against the system currency, reporting every bad field.
    pub fn parse(request: &pb::TopUpBalanceRequest, system: Currency) -> Result<Self, Error> {
        let user_id = parse_user_id(&request.user_id).map_err(|violation| vec![violation]);
        let amount = match &request.amount {
            None => Err(vec![Violation::new("amount", "is required")]),
            Some(amount) => Money::positive(amount.amount_minor, &amount.currency_code, system)
                .map_err(|errors| errors.iter().map(|err| err.violation("amount")).collect()),
        };
        match (user_id, amount) {
            (Ok(user_id), Ok(amount)) => Ok(Self { user_id, amount }),
            (user_id, amount) => Err(Error::InvalidArgument(
                [user_id.err(), amount.err()]
                    .into_iter()
                    .flatten()
                    .flatten()
                    .collect(),
            )),
        }
    }
}

/// What moved a balance, as the ledger records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Money added by the user or an admin.
    TopUp,
    /// An order's payment taken (the saga).
    Debit,
    /// A payment given back (the saga).
    Refund,
}

impl EntryKind {
    /// The ledger's name for the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::TopUp => "TOPUP",
            EntryKind::Debit => "DEBIT",
            EntryKind::Refund => "REFUND",
        }
    }
}

/// Reads a `user_id` request field.
pub fn parse_user_id(raw: &str) -> Result<Uuid, Violation> {
    Uuid::parse_str(raw.trim()).map_err(|_| Violation::new("user_id", "must be a UUID"))
}

/// Allows an admin, or the user `user_id` themself; anyone else is refused before the account
/// is even looked up, so the answer does not reveal whether it exists.
pub fn ensure_self_or_admin(caller: &Identity, user_id: Uuid) -> Result<(), Error> {
    if caller.is_admin() || caller.user_id == user_id {
        Ok(())
    } else {
        Err(Error::NotSelfOrAdmin)
    }
}

/// Allows admins only.
pub fn ensure_admin(caller: &Identity) -> Result<(), Error> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(Error::AdminOnly)
    }
}

#[cfg(test)]
mod tests {
    use sagaway_contracts::pb::common::Money as PbMoney;

    use super::*;

    fn violated_fields(error: Error) -> Vec<String> {
        match error {
            Error::InvalidArgument(violations) => violations.into_iter().map(|v| v.field).collect(),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn a_registration_reports_every_bad_field_at_once() {
        let request = pb::RegisterUserRequest {
            email: "nope".into(),
            password: "short".into(),
            display_name: " ".into(),
        };
        let error = NewUser::try_from(request).expect_err("invalid");
        assert_eq!(
            violated_fields(error),
            ["email", "password", "display_name"]
        );
    }

    #[test]
    fn a_top_up_needs_a_user_id_and_a_positive_amount_in_the_system_currency() {
        let request = |user_id: &str, amount: Option<(i64, &str)>| pb::TopUpBalanceRequest {
            user_id: user_id.into(),
            amount: amount.map(|(amount_minor, code)| PbMoney {
                amount_minor,
                currency_code: code.into(),
            }),
        };
        let id = Uuid::new_v4().to_string();
        let cases: [(_, &[&str]); 4] = [
            (request(&id, None), &["amount"]),
            (
                request("x", Some((0, "EUR"))),
                &["user_id", "amount.amount_minor"],
            ),
            (request(&id, Some((5, "USD"))), &["amount.currency_code"]),
            (
                request(&id, Some((-5, "usd"))),
                &["amount.currency_code", "amount.amount_minor"],
            ),
        ];
        for (request, fields) in cases {
            let error = TopUp::parse(&request, Currency::EUR).expect_err("invalid");
            assert_eq!(violated_fields(error), fields, "{request:?}");
        }
        let valid = TopUp::parse(&request(&id, Some((250, "EUR"))), Currency::EUR).expect("valid");
        assert_eq!(valid.amount, Money::new(250, Currency::EUR));
    }

    #[test]
    fn crediting_refuses_overflow_and_a_balance_in_another_currency() {
        let user = User {
            id: Uuid::new_v4(),
            email: "a@b.co".into(),
            display_name: "A".into(),
            roles: vec![Role::Customer],
            balance: Money::new(i64::MAX - 1, Currency::EUR),
            created_at: Utc::now(),
        };
        assert_eq!(
            user.credit(Money::new(1, Currency::EUR))
                .expect("fits")
                .amount_minor(),
            i64::MAX
        );
        assert!(matches!(
            user.credit(Money::new(2, Currency::EUR)),
            Err(Error::BalanceOverflow)
        ));
        let usd = Currency::parse("USD").expect("usd");
        assert!(matches!(
            user.credit(Money::new(1, usd)),
            Err(Error::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn only_the_user_themself_or_an_admin_may_act_on_an_account() {
        let me = Uuid::new_v4();
        let customer = Identity {
            user_id: me,
            roles: vec![Role::Customer],
            session_id: None,
        };
        let admin = Identity {
            user_id: Uuid::new_v4(),
            roles: vec![Role::Admin],
            session_id: None,
        };
        assert!(ensure_self_or_admin(&customer, me).is_ok());
        assert!(ensure_self_or_admin(&admin, me).is_ok());
        assert!(matches!(
            ensure_self_or_admin(&customer, Uuid::new_v4()),
            Err(Error::NotSelfOrAdmin)
        ));
        assert!(matches!(ensure_admin(&customer), Err(Error::AdminOnly)));
    }
}
