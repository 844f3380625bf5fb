//! The invariant checker: reads the order, product and user databases (and, for events that
//! were never applied, the dead-letter topics) and verifies invariants 1-6 of DESIGN.md,
//! with the counts each verdict rests on.
//!
//! The check is meant for a quiescent system: [`wait_for_quiescence`] waits until every
//! order is terminal, every outbox row is published and every published event has been
//! applied by each consumer group that subscribes to its topic (or stops changing, so that a
//! stuck system is reported rather than waited on forever).
//!
//! | invariant | what is compared |
//! |---|---|
//! | 1 terminal | every order's status is COMPLETED, REJECTED, PAYMENT_FAILED or CANCELLED |
//! | 2 stock | per product `received = available + reserved + sold`, none negative; `reserved` and `sold` equal the live and committed reservation lines; `sold` equals the units of COMPLETED orders (order database) |
//! | 3 money | per user `balance = top-ups - debits + refunds`, none negative; every payment has its debit (and its refund); in all, balances + captured - refunded = top-ups, and captured - refunded = the totals of COMPLETED orders |
//! | 4 outcome | a COMPLETED order has exactly one captured payment of its total and a committed reservation of its lines; any other order holds no captured payment and no live or committed reservation |
//! | 5 once | no order has two debits, two refunds, two events of one type in any outbox, or a status it entered twice |
//! | 6 delivery | no outbox row is unpublished; every outbox event is in the inbox of each group subscribed to its topic, or in that topic's dead-letter twin |

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Context;
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::registry::RegistryClient;
use sagaway_contracts::topics;
use sagaway_platform::inbox::dlq_headers;
use sagaway_platform::kafka::KafkaConfig;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::topic::{Received, TopicMarks, read_topic};

/// The order statuses an order ends in.
pub const TERMINAL: [&str; 4] = ["COMPLETED", "REJECTED", "PAYMENT_FAILED", "CANCELLED"];

/// Where the three participants keep their state, and the consumer groups they apply events
/// in (the services' defaults unless a deployment renamed them).
#[derive(Debug, Clone)]
pub struct Participants {
    /// The order service's database URL.
    pub orders_db: String,
    /// The product service's database URL.
    pub products_db: String,
    /// The user service's database URL.
    pub users_db: String,
    /// The order service's consumer group (`order-service`).
    pub order_group: String,
    /// The product service's consumer group (`product-service`).
    pub product_group: String,
    /// The user service's consumer group (`user-service`).
    pub user_group: String,
}

impl Participants {
    /// The three databases with the services' default consumer groups.
    pub fn new(orders_db: &str, products_db: &str, users_db: &str) -> Self {
        Self {
            orders_db: orders_db.to_owned(),
            products_db: products_db.to_owned(),
            users_db: users_db.to_owned(),
            order_group: "order-service".into(),
            product_group: "product-service".into(),
            user_group: "user-service".into(),
        }
    }
}

/// Where the dead-letter topics are read from, to account for events no inbox has.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    /// The broker.
    pub kafka: KafkaConfig,
    /// The schema registry that decodes the dead-lettered messages.
    pub registry_url: String,
}

/// One invariant's verdict: the counts it rests on and every violation found.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Its number in DESIGN.md.
    pub number: u8,
    /// What it says, in a few words.
    pub name: &'static str,
    /// What was counted, in order.
    pub counts: Vec<(String, i64)>,
    /// One line per violation (empty when it holds).
    pub violations: Vec<String>,
}

impl Verdict {
    fn new(number: u8, name: &'static str) -> Self {
        Self {
            number,
            name,
            counts: Vec::new(),
            violations: Vec::new(),
        }
    }

    fn count(&mut self, what: impl Into<String>, value: impl TryInto<i64>) {
        self.counts
            .push((what.into(), value.try_into().unwrap_or(i64::MAX)));
    }

    fn violation(&mut self, line: String) {
        self.violations.push(line);
    }

    /// Whether the invariant holds.
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The verdicts of all six invariants.
#[derive(Debug, Clone)]
pub struct Report {
    /// Invariants 1-6, in order.
    pub verdicts: Vec<Verdict>,
}

impl Report {
    /// Whether every invariant holds.
    pub fn holds(&self) -> bool {
        self.verdicts.iter().all(Verdict::holds)
    }

    /// The number of violations in all.
    pub fn violations(&self) -> usize {
        self.verdicts.iter().map(|v| v.violations.len()).sum()
    }

    /// The count named `what` of invariant `number`, if it was counted.
    pub fn count(&self, number: u8, what: &str) -> Option<i64> {
        self.verdicts
            .iter()
            .find(|v| v.number == number)?
            .counts
            .iter()
            .find(|(name, _)| name == what)
            .map(|(_, value)| *value)
    }

    /// The report as JSON: each invariant with its counts, violation count and the first
    /// violations.
    pub fn to_json(&self) -> serde_json::Value {
        let verdicts: Vec<_> = self
            .verdicts
            .iter()
            .map(|v| {
                let counts: serde_json::Map<_, _> = v
                    .counts
                    .iter()
                    .map(|(name, value)| (name.clone(), json!(value)))
                    .collect();
                json!({
                    "invariant": v.number,
                    "name": v.name,
                    "holds": v.holds(),
                    "counts": counts,
                    "violations": v.violations.len(),
                    "first_violations": v.violations.iter().take(20).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "holds": self.holds(), "violations": self.violations(), "invariants": verdicts })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for v in &self.verdicts {
            let verdict = if v.holds() { "PASS" } else { "FAIL" };
            writeln!(f, "invariant {} {verdict}  {}", v.number, v.name)?;
            let counts: Vec<String> = v
                .counts
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            writeln!(f, "    {}", counts.join(" "))?;
            for line in v.violations.iter().take(20) {
                writeln!(f, "    violation: {line}")?;
            }
            if v.violations.len() > 20 {
                writeln!(f, "    ... and {} more", v.violations.len() - 20)?;
            }
        }
        let total = self.violations();
        if total == 0 {
            writeln!(f, "all six invariants hold")
        } else {
            writeln!(f, "{total} violation(s)")
        }
    }
}

/// How far the system is from quiescence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Orders in all.
    pub orders: i64,
    /// Orders not yet in a terminal state.
    pub open_orders: i64,
    /// Outbox rows not yet published, in the three databases.
    pub unpublished: i64,
    /// (event, subscribed group) pairs with no inbox row yet.
    pub unapplied: i64,
}

impl Progress {
    /// Nothing left to do.
    pub fn is_quiescent(&self) -> bool {
        self.open_orders == 0 && self.unpublished == 0 && self.unapplied == 0
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "orders={} open={} unpublished={} unapplied={}",
            self.orders, self.open_orders, self.unpublished, self.unapplied
        )
    }
}

/// Connections to the three databases.
#[derive(Debug, Clone)]
pub struct Checker {
    participants: Participants,
    orders: PgPool,
    products: PgPool,
    users: PgPool,
}

/// An outbox row: which event, bound for which topic, about which order.
#[derive(Debug, Clone)]
struct OutboxRow {
    event_id: String,
    topic: String,
    event_type: String,
    order_id: String,
    published: bool,
}

impl Checker {
    /// Connects to the three databases.
    pub async fn connect(participants: Participants) -> anyhow::Result<Self> {
        let connect = |url: String, what: &'static str| async move {
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(&url)
                .await
                .with_context(|| format!("connecting to the {what} database"))
        };
        Ok(Self {
            orders: connect(participants.orders_db.clone(), "order").await?,
            products: connect(participants.products_db.clone(), "product").await?,
            users: connect(participants.users_db.clone(), "user").await?,
            participants,
        })
    }

    /// The order database's pool (the workload reads completion times from it).
    pub fn orders_pool(&self) -> &PgPool {
        &self.orders
    }

    /// The groups that apply events of `topic`, with the pool of the database their inbox is in.
    fn subscribers(&self, topic: &str) -> Vec<(&str, &PgPool)> {
        let p = &self.participants;
        match topic {
            topics::ORDER_EVENTS => vec![
                (p.product_group.as_str(), &self.products),
                (p.user_group.as_str(), &self.users),
            ],
            topics::STOCK_EVENTS => vec![
                (p.order_group.as_str(), &self.orders),
                (p.user_group.as_str(), &self.users),
            ],
            topics::PAYMENT_EVENTS => vec![
                (p.order_group.as_str(), &self.orders),
                (p.product_group.as_str(), &self.products),
            ],
            _ => Vec::new(),
        }
    }

    async fn outbox(&self) -> anyhow::Result<Vec<OutboxRow>> {
        let mut rows = Vec::new();
        for (pool, what) in [
            (&self.orders, "order"),
            (&self.products, "product"),
            (&self.users, "user"),
        ] {
            let found: Vec<(String, String, String, String, bool)> = sqlx::query_as(
                "SELECT event_id, topic, event_type, message_key, published_at IS NOT NULL \
                 FROM outbox ORDER BY id",
            )
            .fetch_all(pool)
            .await
            .with_context(|| format!("reading the {what} outbox"))?;
            rows.extend(found.into_iter().map(
                |(event_id, topic, event_type, order_id, published)| OutboxRow {
                    event_id,
                    topic,
                    event_type,
                    order_id,
                    published,
                },
            ));
        }
        Ok(rows)
    }

    /// Event ids each group has applied, per group.
    async fn inboxes(&self) -> anyhow::Result<HashMap<String, HashSet<String>>> {
        let mut applied: HashMap<String, HashSet<String>> = HashMap::new();
        for pool in [&self.orders, &self.products, &self.users] {
            let rows: Vec<(String, String)> =
                sqlx::query_as("SELECT consumer_group, event_id FROM inbox")
                    .fetch_all(pool)
                    .await
                    .context("reading an inbox")?;
            for (group, event_id) in rows {
                applied.entry(group).or_default().insert(event_id);
            }
        }
        Ok(applied)
    }

    /// (event id, topic, group) for every outbox event a subscribed group has not applied.
    async fn unapplied(
        &self,
        outbox: &[OutboxRow],
    ) -> anyhow::Result<Vec<(String, String, String)>> {
        let applied = self.inboxes().await?;
        let mut missing = Vec::new();
        for row in outbox.iter().filter(|row| row.published) {
            for (group, _) in self.subscribers(&row.topic) {
                let seen = applied
                    .get(group)
                    .is_some_and(|ids| ids.contains(&row.event_id));
                if !seen {
                    missing.push((row.event_id.clone(), row.topic.clone(), group.to_owned()));
                }
            }
        }
        Ok(missing)
    }

    /// How far the system is from quiescence now.
    pub async fn progress(&self) -> anyhow::Result<Progress> {
        let (orders, open_orders): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE status <> ALL($1)) FROM orders",
        )
        .bind(TERMINAL.as_slice())
        .fetch_one(&self.orders)
        .await
        .context("counting orders")?;
        let outbox = self.outbox().await?;
        let unpublished = outbox.iter().filter(|row| !row.published).count();
        let unapplied = self.unapplied(&outbox).await?.len();
        Ok(Progress {
            orders,
            open_orders,
            unpublished: unpublished as i64,
            unapplied: unapplied as i64,
        })
    }

    /// Waits until the system is quiescent, or its progress has not changed for `settle`
    /// (something is stuck: the check will say what), or `within` has passed. Reports the
    /// progress to `report` every few seconds. Returns the last progress seen.
    pub async fn wait_for_quiescence(
        &self,
        within: Duration,
        settle: Duration,
        mut report: impl FnMut(&Progress),
    ) -> anyhow::Result<Progress> {
        let start = Instant::now();
        let mut last = self.progress().await?;
        let mut unchanged_since = Instant::now();
        let mut reported = Instant::now();
        report(&last);
        while !last.is_quiescent() && start.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.progress().await?;
            if now != last {
                unchanged_since = Instant::now();
            } else if unchanged_since.elapsed() >= settle {
                break;
            }
            last = now;
            if reported.elapsed() >= Duration::from_secs(5) {
                report(&last);
                reported = Instant::now();
            }
        }
        report(&last);
        Ok(last)
    }

    /// Checks invariants 1-6 on the databases as they are now; `dead_letters` (when given)
    /// is read to account for events that no inbox has.
    pub async fn check(&self, dead_letters: Option<&DeadLetters>) -> anyhow::Result<Report> {
        let orders = self.load_orders().await?;
        let outbox = self.outbox().await?;
        let stock = self.check_stock(&orders).await?;
        let (money, payments) = self.check_money(&orders).await?;
        let outcome = self.check_outcomes(&orders, &payments).await?;
        let once = self.check_once(&orders, &payments, &outbox).await?;
        let delivery = self.check_delivery(&outbox, dead_letters).await?;
        Ok(Report {
            verdicts: vec![
                check_terminal(&orders),
                stock,
                money,
                outcome,
                once,
                delivery,
            ],
        })
    }

    async fn load_orders(&self) -> anyhow::Result<Orders> {
        let rows: Vec<(Uuid, String, Option<i64>)> =
            sqlx::query_as("SELECT id, status, total_minor FROM orders")
                .fetch_all(&self.orders)
                .await
                .context("reading orders")?;
        let lines: Vec<(Uuid, Uuid, i64)> =
            sqlx::query_as("SELECT order_id, product_id, quantity FROM order_lines")
                .fetch_all(&self.orders)
                .await
                .context("reading order lines")?;
        let mut orders = Orders::default();
        for (id, status, total) in rows {
            orders.status.insert(id, status);
            orders.total.insert(id, total.unwrap_or(0));
        }
        for (order_id, product_id, quantity) in lines {
            *orders
                .lines
                .entry(order_id)
                .or_default()
                .entry(product_id)
                .or_default() += quantity;
        }
        Ok(orders)
    }

    async fn check_stock(&self, orders: &Orders) -> anyhow::Result<Verdict> {
        let mut verdict = Verdict::new(2, "stock is conserved and never oversold");
        let products: Vec<(Uuid, i64, i64, i64, i64)> =
            sqlx::query_as("SELECT id, received, available, reserved, sold FROM products")
                .fetch_all(&self.products)
                .await
                .context("reading products")?;
        let by_status: Vec<(Uuid, String, i64)> = sqlx::query_as(
            "SELECT l.product_id, r.status, sum(l.quantity)::bigint \
             FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id \
             GROUP BY l.product_id, r.status",
        )
        .fetch_all(&self.products)
        .await
        .context("reading reservation lines")?;
        let mut live: HashMap<Uuid, i64> = HashMap::new();
        let mut committed: HashMap<Uuid, i64> = HashMap::new();
        for (product, status, units) in by_status {
            match status.as_str() {
                "RESERVED" => *live.entry(product).or_default() += units,
                "COMMITTED" => *committed.entry(product).or_default() += units,
                _ => {}
            }
        }
        let mut completed_units: HashMap<Uuid, i64> = HashMap::new();
        for (order, lines) in &orders.lines {
            if orders.status.get(order).map(String::as_str) == Some("COMPLETED") {
                for (product, quantity) in lines {
                    *completed_units.entry(*product).or_default() += quantity;
                }
            }
        }
        let (mut received, mut available, mut reserved, mut sold) = (0, 0, 0, 0);
        for &(id, r, a, res, s) in &products {
            received += r;
            available += a;
            reserved += res;
            sold += s;
            if r != a + res + s {
                verdict.violation(format!(
                    "product {id}: received {r} != available {a} + reserved {res} + sold {s}"
                ));
            }
            if a < 0 || res < 0 || s < 0 {
                verdict.violation(format!(
                    "product {id}: negative stock (available {a}, reserved {res}, sold {s})"
                ));
            }
            let held = live.get(&id).copied().unwrap_or(0);
            if res != held {
                verdict.violation(format!(
                    "product {id}: reserved {res} but live reservations hold {held}"
                ));
            }
            let committed_units = committed.get(&id).copied().unwrap_or(0);
            if s != committed_units {
                verdict.violation(format!(
                    "product {id}: sold {s} but committed reservations hold {committed_units}"
                ));
            }
            let ordered = completed_units.get(&id).copied().unwrap_or(0);
            if s != ordered {
                verdict.violation(format!(
                    "product {id}: sold {s} but COMPLETED orders bought {ordered}"
                ));
            }
        }
        let known: HashSet<Uuid> = products.iter().map(|p| p.0).collect();
        for product in completed_units.keys().filter(|p| !known.contains(p)) {
            verdict.violation(format!(
                "COMPLETED orders bought product {product}, which the catalogue does not have"
            ));
        }
        verdict.count("products", products.len());
        verdict.count("received", received);
        verdict.count("available", available);
        verdict.count("reserved", reserved);
        verdict.count("sold", sold);
        Ok(verdict)
    }

    async fn check_money(&self, orders: &Orders) -> anyhow::Result<(Verdict, Payments)> {
        let mut verdict = Verdict::new(3, "money is conserved");
        let users: Vec<(Uuid, i64)> = sqlx::query_as("SELECT id, balance_minor FROM users")
            .fetch_all(&self.users)
            .await
            .context("reading users")?;
        let ledger: Vec<(Uuid, String, i64)> = sqlx::query_as(
            "SELECT user_id, kind, sum(amount_minor)::bigint FROM balance_entries \
             GROUP BY user_id, kind",
        )
        .fetch_all(&self.users)
        .await
        .context("reading the balance ledger")?;
        let payment_rows: Vec<(Uuid, i64, String)> =
            sqlx::query_as("SELECT order_id, amount_minor, status FROM payments")
                .fetch_all(&self.users)
                .await
                .context("reading payments")?;
        let order_entries: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
            "SELECT order_id, kind, count(*), sum(amount_minor)::bigint FROM balance_entries \
             WHERE order_id IS NOT NULL GROUP BY order_id, kind",
        )
        .fetch_all(&self.users)
        .await
        .context("reading payment entries")?;

        let mut per_user: HashMap<Uuid, [i64; 3]> = HashMap::new();
        for (user, kind, amount) in ledger {
            let slot = match kind.as_str() {
                "TOPUP" => 0,
                "DEBIT" => 1,
                _ => 2,
            };
            per_user.entry(user).or_default()[slot] += amount;
        }
        let mut balances = 0;
        for &(user, balance) in &users {
            balances += balance;
            let [topups, debits, refunds] = per_user.get(&user).copied().unwrap_or_default();
            if balance != topups - debits + refunds {
                verdict.violation(format!(
                    "user {user}: balance {balance} != top-ups {topups} - debits {debits} + refunds {refunds}"
                ));
            }
            if balance < 0 {
                verdict.violation(format!("user {user}: negative balance {balance}"));
            }
        }
        let totals = per_user.values().fold([0; 3], |mut sum, row| {
            for (s, v) in sum.iter_mut().zip(row) {
                *s += v;
            }
            sum
        });

        let mut entries: HashMap<(Uuid, String), (i64, i64)> = HashMap::new();
        for (order, kind, count, amount) in order_entries {
            entries.insert((order, kind), (count, amount));
        }
        let mut payments = Payments::default();
        let (mut captured, mut refunded) = (0, 0);
        for (order, amount, status) in payment_rows {
            captured += amount;
            let debit = entries.get(&(order, "DEBIT".to_owned())).copied();
            if debit.map(|(_, a)| a) != Some(amount) {
                verdict.violation(format!(
                    "payment for order {order}: {amount} captured but the ledger debited {debit:?}"
                ));
            }
            if status == "REFUNDED" {
                refunded += amount;
                let refund = entries.get(&(order, "REFUND".to_owned())).copied();
                if refund.map(|(_, a)| a) != Some(amount) {
                    verdict.violation(format!(
                        "payment for order {order}: {amount} refunded but the ledger refunded {refund:?}"
                    ));
                }
            }
            payments.status.insert(order, (status, amount));
        }
        for (order, kind) in entries.keys() {
            if !payments.status.contains_key(order) {
                verdict.violation(format!("order {order}: a {kind} entry without a payment"));
            }
        }
        payments.entries = entries;
        let [topups, debits, refunds] = totals;
        if balances + captured - refunded != topups {
            verdict.violation(format!(
                "balances {balances} + captured {captured} - refunded {refunded} != top-ups {topups}"
            ));
        }
        if debits != captured || refunds != refunded {
            verdict.violation(format!(
                "ledger debits {debits} / refunds {refunds} differ from payments captured {captured} / refunded {refunded}"
            ));
        }
        let completed_value: i64 = orders
            .status
            .iter()
            .filter(|(_, status)| status.as_str() == "COMPLETED")
            .map(|(id, _)| orders.total.get(id).copied().unwrap_or(0))
            .sum();
        if captured - refunded != completed_value {
            verdict.violation(format!(
                "kept payments {} != the totals of COMPLETED orders {completed_value}",
                captured - refunded
            ));
        }
        verdict.count("users", users.len());
        verdict.count("balances", balances);
        verdict.count("captured", captured);
        verdict.count("refunded", refunded);
        verdict.count("topups", topups);
        verdict.count("completed_order_value", completed_value);
        Ok((verdict, payments))
    }

    async fn check_outcomes(
        &self,
        orders: &Orders,
        payments: &Payments,
    ) -> anyhow::Result<Verdict> {
        let mut verdict = Verdict::new(
            4,
            "a COMPLETED order has one captured payment and committed stock; others hold neither",
        );
        let reservations: Vec<(Uuid, String, i64)> =
            sqlx::query_as("SELECT order_id, status, total_minor FROM reservations")
                .fetch_all(&self.products)
                .await
                .context("reading reservations")?;
        let lines: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
            "SELECT r.order_id, l.product_id, l.quantity \
             FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id",
        )
        .fetch_all(&self.products)
        .await
        .context("reading reservation lines")?;
        let reservation: HashMap<Uuid, String> = reservations
            .iter()
            .map(|(order, status, _)| (*order, status.clone()))
            .collect();
        let mut reserved_lines: HashMap<Uuid, BTreeMap<Uuid, i64>> = HashMap::new();
        for (order, product, quantity) in lines {
            *reserved_lines
                .entry(order)
                .or_default()
                .entry(product)
                .or_default() += quantity;
        }
        let (mut completed, mut others) = (0, 0);
        for (order, status) in &orders.status {
            let payment = payments.status.get(order);
            let held = reservation.get(order).map(String::as_str);
            if status == "COMPLETED" {
                completed += 1;
                let total = orders.total.get(order).copied().unwrap_or(0);
                match payment {
                    Some((s, amount)) if s == "CAPTURED" && *amount == total => {}
                    other => verdict.violation(format!(
                        "COMPLETED order {order} (total {total}): payment {other:?}"
                    )),
                }
                if held != Some("COMMITTED") {
                    verdict.violation(format!("COMPLETED order {order}: reservation {held:?}"));
                } else if reserved_lines.get(order) != orders.lines.get(order) {
                    verdict.violation(format!(
                        "COMPLETED order {order}: committed {:?} but ordered {:?}",
                        reserved_lines.get(order),
                        orders.lines.get(order)
                    ));
                }
            } else if TERMINAL.contains(&status.as_str()) {
                others += 1;
                if payment.is_some_and(|(s, _)| s == "CAPTURED") {
                    verdict.violation(format!("{status} order {order} holds a captured payment"));
                }
                if matches!(held, Some("RESERVED" | "COMMITTED")) {
                    verdict.violation(format!("{status} order {order}: reservation {held:?}"));
                }
            }
        }
        for order in payments.status.keys() {
            if !orders.status.contains_key(order) {
                verdict.violation(format!("a payment for order {order}, which does not exist"));
            }
        }
        for (order, _, _) in &reservations {
            if !orders.status.contains_key(order) {
                verdict.violation(format!(
                    "a reservation for order {order}, which does not exist"
                ));
            }
        }
        verdict.count("completed", completed);
        verdict.count("other_terminal", others);
        verdict.count("payments", payments.status.len());
        verdict.count("reservations", reservations.len());
        Ok(verdict)
    }

    async fn check_once(
        &self,
        orders: &Orders,
        payments: &Payments,
        outbox: &[OutboxRow],
    ) -> anyhow::Result<Verdict> {
        let mut verdict = Verdict::new(5, "redelivered or duplicated events change nothing twice");
        for ((order, kind), (count, _)) in &payments.entries {
            if *count > 1 {
                verdict.violation(format!("order {order}: {count} {kind} entries"));
            }
        }
        let mut per_type: HashMap<(&str, &str), usize> = HashMap::new();
        for row in outbox {
            *per_type
                .entry((row.order_id.as_str(), row.event_type.as_str()))
                .or_default() += 1;
        }
        for ((order, event_type), count) in &per_type {
            if *count > 1 {
                verdict.violation(format!("order {order}: {count} {event_type} events"));
            }
        }
        let history: Vec<(Uuid, Option<String>, String)> = sqlx::query_as(
            "SELECT order_id, from_status, to_status FROM order_status_history ORDER BY id",
        )
        .fetch_all(&self.orders)
        .await
        .context("reading the status history")?;
        let mut entered: HashSet<(Uuid, String)> = HashSet::new();
        let mut current: HashMap<Uuid, String> = HashMap::new();
        for (order, from, to) in &history {
            if !entered.insert((*order, to.clone())) {
                verdict.violation(format!("order {order} entered {to} twice"));
            }
            if from.as_ref() != current.get(order) {
                verdict.violation(format!(
                    "order {order}: a transition from {from:?} while it was {:?}",
                    current.get(order)
                ));
            }
            current.insert(*order, to.clone());
        }
        for (order, status) in &orders.status {
            if current.get(order) != Some(status) {
                verdict.violation(format!(
                    "order {order} is {status} but its history ends at {:?}",
                    current.get(order)
                ));
            }
        }
        let applied: i64 = {
            let mut total = 0;
            for pool in [&self.orders, &self.products, &self.users] {
                let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM inbox")
                    .fetch_one(pool)
                    .await
                    .context("counting inboxes")?;
                total += n;
            }
            total
        };
        verdict.count("events_applied", applied);
        verdict.count("outbox_events", outbox.len());
        verdict.count("status_changes", history.len());
        Ok(verdict)
    }

    async fn check_delivery(
        &self,
        outbox: &[OutboxRow],
        dead_letters: Option<&DeadLetters>,
    ) -> anyhow::Result<Verdict> {
        let mut verdict = Verdict::new(
            6,
            "no event is lost: every outbox row published, every event applied or dead-lettered",
        );
        let unpublished: Vec<&OutboxRow> = outbox.iter().filter(|row| !row.published).collect();
        for row in &unpublished {
            verdict.violation(format!(
                "{} {} (order {}) is still unpublished",
                row.event_type, row.event_id, row.order_id
            ));
        }
        let unapplied = self.unapplied(outbox).await?;
        let dead: HashMap<String, usize> = match dead_letters {
            Some(source) => read_dead_letters(source).await?,
            None => HashMap::new(),
        };
        let mut dead_lettered = 0;
        for (event_id, topic, group) in &unapplied {
            if dead.contains_key(event_id) {
                dead_lettered += 1;
            } else {
                verdict.violation(format!(
                    "event {event_id} on {topic} was neither applied by {group} nor dead-lettered"
                ));
            }
        }
        let deliveries: usize = outbox
            .iter()
            .filter(|row| row.published)
            .map(|row| self.subscribers(&row.topic).len())
            .sum();
        verdict.count("outbox_rows", outbox.len());
        verdict.count("unpublished", unpublished.len());
        verdict.count("deliveries_due", deliveries);
        verdict.count("applied", deliveries - unapplied.len());
        verdict.count("dead_lettered", dead_lettered);
        verdict.count("dlq_messages", dead.values().copied().sum::<usize>());
        Ok(verdict)
    }
}

/// What the order database says about each order.
#[derive(Debug, Default)]
struct Orders {
    status: HashMap<Uuid, String>,
    total: HashMap<Uuid, i64>,
    lines: HashMap<Uuid, BTreeMap<Uuid, i64>>,
}

/// What the user database says about each order's payment: (status, amount), and its ledger
/// entries by kind: (count, sum).
#[derive(Debug, Default)]
struct Payments {
    status: HashMap<Uuid, (String, i64)>,
    entries: HashMap<(Uuid, String), (i64, i64)>,
}

fn check_terminal(orders: &Orders) -> Verdict {
    let mut verdict = Verdict::new(1, "every order reaches a terminal state");
    let mut by_status: BTreeMap<&str, i64> = BTreeMap::new();
    for (order, status) in &orders.status {
        *by_status.entry(status.as_str()).or_default() += 1;
        if !TERMINAL.contains(&status.as_str()) {
            verdict.violation(format!("order {order} is still {status}"));
        }
    }
    verdict.count("orders", orders.status.len());
    for status in TERMINAL {
        verdict.count(status, by_status.get(status).copied().unwrap_or(0));
    }
    let open: i64 = by_status
        .iter()
        .filter(|(status, _)| !TERMINAL.contains(status))
        .map(|(_, n)| n)
        .sum();
    verdict.count("open", open);
    verdict
}

/// Reads the three dead-letter topics from the start to their ends and counts each event id
/// found there (decoded through the registry; a message that does not decode is counted
/// under its origin coordinates).
async fn read_dead_letters(source: &DeadLetters) -> anyhow::Result<HashMap<String, usize>> {
    let codec = EventCodec::new(RegistryClient::new(source.registry_url.clone()));
    let mut counts = HashMap::new();
    for topic in topics::SAGA_TOPICS {
        let dlq = format!("{topic}{}", topics::DLQ_SUFFIX);
        let config = source
            .kafka
            .consumer(&format!("sagaway-check-{}", Uuid::new_v4()));
        let messages = tokio::task::spawn_blocking(move || {
            read_topic(
                &config,
                &dlq,
                &TopicMarks::default(),
                Duration::from_secs(120),
            )
        })
        .await
        .context("the dead-letter reader panicked")??;
        for message in messages {
            let key = match codec.decode(&message.payload).await {
                Ok(event) => event.metadata().event_id.clone(),
                Err(_) => origin(&message),
            };
            *counts.entry(key).or_default() += 1;
        }
    }
    Ok(counts)
}

/// A dead letter's origin coordinates (topic/partition/offset) from its headers.
fn origin(message: &Received) -> String {
    [
        dlq_headers::ORIGIN_TOPIC,
        dlq_headers::ORIGIN_PARTITION,
        dlq_headers::ORIGIN_OFFSET,
    ]
    .map(|name| message.header(name).unwrap_or("?"))
    .join("/")
}
