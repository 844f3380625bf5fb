//! The saga workload: a catalogue and customers made through the services' gRPC APIs, then
//! orders placed at a steady rate (or as fast as a fixed number of callers can), some of them
//! cancelled by their customer moments later, all drawn from a seeded generator so a run can
//! be repeated.
//!
//! [`Shape::contended`] makes every outcome happen: stock shorter than demand (REJECTED),
//! customers whose money runs out (PAYMENT_FAILED), cancels (CANCELLED) and the rest
//! COMPLETED. [`Shape::ample`] makes every order complete, for latency measurements.
//!
//! The services are called as the gateway would call them: the identity of the (admin or
//! customer) caller in metadata.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::order::{self as order_pb, order_service_client::OrderServiceClient};
use sagaway_contracts::pb::product::{
    self as product_pb, product_service_client::ProductServiceClient,
};
use sagaway_contracts::pb::user::{self as user_pb, user_service_client::UserServiceClient};
use sagaway_platform::identity::{Identity, Role};
use sqlx::PgPool;
use tokio::sync::{Mutex, Semaphore};
use tonic::transport::Channel;
use uuid::Uuid;

use super::check::TERMINAL;

/// A small, fast, seeded generator (SplitMix64): the same seed gives the same workload.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = (high - low).max(0) as u64 + 1;
        low + (self.next_u64() % span) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// What the catalogue, the customers and the orders look like.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Customers registered and topped up.
    pub users: usize,
    /// Products created.
    pub products: usize,
    /// Units each product starts with (drawn from this range).
    pub stock: (i64, i64),
    /// Unit prices in minor units (drawn from this range).
    pub price: (i64, i64),
    /// Each customer's top-up in minor units (drawn from this range).
    pub funds: (i64, i64),
    /// Lines per order, at most (at least one; each line a different product).
    pub max_lines: usize,
    /// Units per line, at most.
    pub max_quantity: i64,
    /// The share of orders their customer cancels moments after placing them.
    pub cancel_ratio: f64,
}

impl Shape {
    /// Every outcome: short stock, short funds and cancels, across `users` customers and
    /// `products` products.
    pub fn contended(users: usize, products: usize) -> Self {
        Self {
            users,
            products,
            stock: (5, 40),
            price: (100, 2_000),
            funds: (2_000, 40_000),
            max_lines: 3,
            max_quantity: 3,
            cancel_ratio: 0.1,
        }
    }

    /// Every order completes: stock and money that do not run out, no cancels.
    pub fn ample(users: usize, products: usize) -> Self {
        Self {
            users,
            products,
            stock: (1_000_000_000, 1_000_000_000),
            price: (100, 2_000),
            funds: (1_000_000_000_000, 1_000_000_000_000),
            max_lines: 2,
            max_quantity: 2,
            cancel_ratio: 0.0,
        }
    }
}

/// How fast orders are placed.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Orders to place.
    pub orders: usize,
    /// Orders per second; 0 places them as fast as `concurrency` callers can.
    pub rate: f64,
    /// Calls in flight at most.
    pub concurrency: usize,
}

/// gRPC clients of the three services.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The order service.
    pub orders: OrderServiceClient<Channel>,
    /// The product service.
    pub products: ProductServiceClient<Channel>,
    /// The user service.
    pub users: UserServiceClient<Channel>,
}

impl Clients {
    /// Connects to the three services (gRPC URLs such as `http://127.0.0.1:50051`).
    pub async fn connect(
        order_url: &str,
        product_url: &str,
        user_url: &str,
    ) -> anyhow::Result<Self> {
        let channel = |url: &str| {
            let url = url.to_owned();
            async move {
                Channel::from_shared(url.clone())
                    .with_context(|| format!("gRPC URL {url}"))?
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(10))
                    .connect()
                    .await
                    .with_context(|| format!("connecting to {url}"))
            }
        };
        Ok(Self {
            orders: OrderServiceClient::new(channel(order_url).await?),
            products: ProductServiceClient::new(channel(product_url).await?),
            users: UserServiceClient::new(channel(user_url).await?),
        })
    }
}

/// The customers and products a workload orders with.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Registered, topped-up customers.
    pub users: Vec<Uuid>,
    /// Products and their unit prices.
    pub products: Vec<(Uuid, i64)>,
    /// The sum of all top-ups.
    pub funds: i64,
    /// The sum of all initial stock.
    pub stock: i64,
}

fn as_caller<T>(identity: &Identity, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    identity.write_to(request.metadata_mut());
    request
}

fn admin() -> Identity {
    Identity {
        user_id: Uuid::new_v4(),
        roles: vec![Role::Customer, Role::Admin],
        session_id: None,
    }
}

fn customer(user_id: Uuid) -> Identity {
    Identity {
        user_id,
        roles: vec![Role::Customer],
        session_id: None,
    }
}

fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: "EUR".into(),
    }
}

/// Creates the catalogue and the customers of `shape` (prices, stock and funds drawn from
/// `rng`); `tag` keeps SKUs and emails of different runs apart.
pub async fn prepare(
    clients: &Clients,
    shape: &Shape,
    rng: &mut Rng,
    tag: &str,
) -> anyhow::Result<Fixture> {
    let admin = admin();
    let mut fixture = Fixture {
        users: Vec::new(),
        products: Vec::new(),
        funds: 0,
        stock: 0,
    };
    for n in 0..shape.products {
        let price = rng.between(shape.price.0, shape.price.1);
        let stock = rng.between(shape.stock.0, shape.stock.1);
        let product = product_pb::Product {
            sku: format!("LOAD-{tag}-{n}"),
            name: format!("Load product {n}"),
            price: Some(eur(price)),
            stock: Some(product_pb::Stock {
                available: stock,
                reserved: 0,
            }),
            ..Default::default()
        };
        let request = product_pb::CreateProductRequest {
            product: Some(product),
        };
        let created = clients
            .products
            .clone()
            .create_product(as_caller(&admin, request))
            .await
            .context("CreateProduct")?
            .into_inner();
        let id = created.product_id.parse().context("product id")?;
        fixture.products.push((id, price));
        fixture.stock += stock;
    }
    for n in 0..shape.users {
        let request = user_pb::RegisterUserRequest {
            email: format!("load-{tag}-{n}@load.sagaway.test"),
            password: "load-password-1".into(),
            display_name: format!("Load customer {n}"),
        };
        let user = clients
            .users
            .clone()
            .register_user(request)
            .await
            .context("RegisterUser")?
            .into_inner()
            .user
            .context("RegisterUser answered no user")?;
        let funds = rng.between(shape.funds.0, shape.funds.1);
        let request = user_pb::TopUpBalanceRequest {
            user_id: user.user_id.clone(),
            amount: Some(eur(funds)),
        };
        clients
            .users
            .clone()
            .top_up_balance(as_caller(&admin, request))
            .await
            .context("TopUpBalance")?;
        fixture.users.push(user.user_id.parse().context("user id")?);
        fixture.funds += funds;
    }
    Ok(fixture)
}

/// What placing the orders did.
#[derive(Debug, Clone, Default)]
pub struct Placed {
    /// The orders created, with when the call that created each was sent.
    pub orders: Vec<Uuid>,
    /// CreateOrder calls that failed, by gRPC code.
    pub create_errors: BTreeMap<String, usize>,
    /// CancelOrder calls answered OK.
    pub cancels: usize,
    /// CancelOrder calls refused, by gRPC code (FAILED_PRECONDITION: already final).
    pub cancel_errors: BTreeMap<String, usize>,
    /// From the first call to the last answer.
    pub elapsed: Duration,
}

impl Placed {
    /// Calls that failed, in all.
    pub fn create_failures(&self) -> usize {
        self.create_errors.values().sum()
    }
}

struct Plan {
    user: Uuid,
    items: Vec<order_pb::OrderItem>,
    cancel_after: Option<Duration>,
}

fn plan(rng: &mut Rng, shape: &Shape, fixture: &Fixture) -> Plan {
    let user = fixture.users[rng.between(0, fixture.users.len() as i64 - 1) as usize];
    let lines = rng.between(1, shape.max_lines.min(fixture.products.len()) as i64) as usize;
    let mut chosen: Vec<usize> = Vec::new();
    while chosen.len() < lines {
        let pick = rng.between(0, fixture.products.len() as i64 - 1) as usize;
        if !chosen.contains(&pick) {
            chosen.push(pick);
        }
    }
    let items = chosen
        .into_iter()
        .map(|i| order_pb::OrderItem {
            product_id: fixture.products[i].0.to_string(),
            quantity: rng.between(1, shape.max_quantity),
        })
        .collect();
    let cancel_after = rng
        .chance(shape.cancel_ratio)
        .then(|| Duration::from_millis(rng.between(0, 200) as u64));
    Plan {
        user,
        items,
        cancel_after,
    }
}

fn code_name(status: &tonic::Status) -> String {
    format!("{:?}", status.code())
}

/// Places `pace.orders` orders of `shape` over `fixture`, reporting progress to `progress`
/// (orders placed so far) about once a second.
pub async fn place_orders(
    clients: &Clients,
    fixture: &Fixture,
    shape: &Shape,
    pace: Pace,
    rng: &mut Rng,
    mut progress: impl FnMut(usize, &Placed),
) -> anyhow::Result<Placed> {
    anyhow::ensure!(
        !fixture.users.is_empty() && !fixture.products.is_empty(),
        "the fixture needs customers and products"
    );
    let placed = Arc::new(Mutex::new(Placed::default()));
    let permits = Arc::new(Semaphore::new(pace.concurrency.max(1)));
    let start = Instant::now();
    let mut reported = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..pace.orders {
        if pace.rate > 0.0 {
            let due = start + Duration::from_secs_f64(n as f64 / pace.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .context("the call limit closed")?;
        let plan = plan(rng, shape, fixture);
        let clients = clients.clone();
        let shared = placed.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let who = customer(plan.user);
            let request = order_pb::CreateOrderRequest { items: plan.items };
            let created = clients
                .orders
                .clone()
                .create_order(as_caller(&who, request))
                .await;
            let order = match created {
                Ok(order) => order.into_inner(),
                Err(status) => {
                    *shared
                        .lock()
                        .await
                        .create_errors
                        .entry(code_name(&status))
                        .or_default() += 1;
                    return;
                }
            };
            let Ok(id) = order.order_id.parse::<Uuid>() else {
                return;
            };
            shared.lock().await.orders.push(id);
            if let Some(after) = plan.cancel_after {
                tokio::time::sleep(after).await;
                let request = order_pb::CancelOrderRequest {
                    order_id: id.to_string(),
                    reason: "changed my mind (load test)".into(),
                };
                let answer = clients
                    .orders
                    .clone()
                    .cancel_order(as_caller(&who, request))
                    .await;
                let mut placed = shared.lock().await;
                match answer {
                    Ok(_) => placed.cancels += 1,
                    Err(status) => {
                        *placed.cancel_errors.entry(code_name(&status)).or_default() += 1
                    }
                }
            }
        });
        while tasks.try_join_next().is_some() {}
        if reported.elapsed() >= Duration::from_secs(1) {
            progress(n + 1, &*placed.lock().await);
            reported = Instant::now();
        }
    }
    while tasks.join_next().await.is_some() {}
    drop(tasks);
    let mut placed = Arc::try_unwrap(placed)
        .map_err(|_| anyhow::anyhow!("a call outlived the workload"))?
        .into_inner();
    placed.elapsed = start.elapsed();
    progress(pace.orders, &placed);
    Ok(placed)
}

/// Waits until every order of `ids` is in a terminal state, or `within` has passed; returns
/// how many are still open.
pub async fn wait_for_terminal(
    orders_db: &PgPool,
    ids: &[Uuid],
    within: Duration,
    mut progress: impl FnMut(i64),
) -> anyhow::Result<i64> {
    let start = Instant::now();
    let mut reported = Instant::now();
    loop {
        let (open,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM orders WHERE id = ANY($1) AND status <> ALL($2)")
                .bind(ids)
                .bind(TERMINAL.as_slice())
                .fetch_one(orders_db)
                .await
                .context("counting open orders")?;
        if open == 0 || start.elapsed() >= within {
            progress(open);
            return Ok(open);
        }
        if reported.elapsed() >= Duration::from_secs(2) {
            progress(open);
            reported = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long the orders took from creation to their terminal state.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    /// Terminal orders by status.
    pub by_status: BTreeMap<String, usize>,
    /// Creation to terminal state, microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// From the first order's creation to the last order's terminal state.
    pub span: Duration,
}

/// Reads, from the order database's own timestamps, when each of `ids` was created and when
/// it reached its terminal state.
pub async fn completion(orders_db: &PgPool, ids: &[Uuid]) -> anyhow::Result<Completion> {
    let rows: Vec<(String, f64, f64)> = sqlx::query_as(
        "SELECT o.status, \
                extract(epoch FROM o.created_at)::float8, \
                extract(epoch FROM h.changed_at)::float8 \
         FROM orders o \
         JOIN LATERAL (SELECT changed_at FROM order_status_history \
                       WHERE order_id = o.id AND to_status = ANY($2) \
                       ORDER BY id LIMIT 1) h ON true \
         WHERE o.id = ANY($1)",
    )
    .bind(ids)
    .bind(TERMINAL.as_slice())
    .fetch_all(orders_db)
    .await
    .context("reading completion times")?;
    let mut result = Completion::default();
    let (mut first, mut last) = (f64::MAX, f64::MIN);
    for (status, created, ended) in rows {
        *result.by_status.entry(status).or_default() += 1;
        let micros = ((ended - created) * 1e6).max(0.0);
        result
            .latencies_us
            .push(micros.min(f64::from(u32::MAX)) as u32);
        first = first.min(created);
        last = last.max(ended);
    }
    result.latencies_us.sort_unstable();
    if last > first {
        result.span = Duration::from_secs_f64(last - first);
    }
    Ok(result)
}
