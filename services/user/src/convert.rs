//! Domain values as the protobuf messages of `sagaway.user.v1`.

use sagaway_contracts::pb::common::Money as PbMoney;
use sagaway_contracts::pb::user as pb;
use sagaway_platform::identity::Role;
use sqlx::types::chrono::{DateTime, Utc};

use crate::domain::User;

impl From<User> for pb::User {
    fn from(user: User) -> Self {
        Self {
            user_id: user.id.to_string(),
            email: user.email,
            display_name: user.display_name,
            roles: user
                .roles
                .into_iter()
                .map(|role| role_to_pb(role) as i32)
                .collect(),
            balance: Some(PbMoney {
                amount_minor: user.balance.amount_minor(),
                currency_code: user.balance.currency().to_string(),
            }),
            create_time: Some(timestamp(user.created_at)),
        }
    }
}

fn role_to_pb(role: Role) -> pb::Role {
    match role {
        Role::Customer => pb::Role::Customer,
        Role::Admin => pb::Role::Admin,
    }
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}
