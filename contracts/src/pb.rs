//! Code generated from `proto/` by `build.rs`, behind one module per protobuf package.

#![allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic
)]

/// The encoded `google.protobuf.FileDescriptorSet` of every file in `proto/`, imports and
/// source comments included. The gateway builds its routes from the `google.api.http` options
/// in it; gRPC reflection serves it.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sagaway_descriptor.bin"));

/// `google.api`: the HTTP annotations ([`google::api::HttpRule`]).
pub mod google {
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/google.api.rs"));
    }
}

/// Sagaway's own packages.
pub mod sagaway {
    pub mod common {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/sagaway.common.v1.rs"));
        }
    }
    pub mod user {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/sagaway.user.v1.rs"));
        }
    }
    pub mod product {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/sagaway.product.v1.rs"));
        }
    }
    pub mod order {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/sagaway.order.v1.rs"));
        }
    }
}

pub use sagaway::common::v1 as common;
pub use sagaway::order::v1 as order;
pub use sagaway::product::v1 as product;
pub use sagaway::user::v1 as user;

/// Fully qualified names of the services in `proto/`, as gRPC health and reflection know them.
pub const SERVICE_NAMES: [&str; 3] = [
    "sagaway.order.v1.OrderService",
    "sagaway.product.v1.ProductService",
    "sagaway.user.v1.UserService",
];
