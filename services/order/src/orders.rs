//! What the order RPCs do: validate, check the catalogue, and change orders together with the
//! events that tell the saga about it (one transaction: the order row, its history and the
//! outbox row commit or roll back together).

use std::collections::HashMap;

use sagaway_contracts::events::{
    AnyEvent, EventMetadata, OrderCancelReason, OrderCancelled, OrderCreated, OrderCreatedLine,
};
use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::order as pb;
use sagaway_platform::identity::Identity;
use sagaway_platform::outbox::{self, EventHeaders};
use sagaway_platform::paging::{Page, PageRequest};
use sagaway_platform::status::Violation;
use sqlx::PgPool;
use tonic::metadata::MetadataMap;
use uuid::Uuid;

use crate::catalog::Catalog;
use crate::domain::{NewOrder, OrderStatus};
use crate::error::OrderError;
use crate::store::{self, HistoryRow, LineRow, OrderRow, Transition};

/// The paging scope of `ListOrders` tokens.
const LIST_SCOPE: &str = "orders";

/// The request's trace context, carried into the events it causes.
#[derive(Debug, Clone, Default)]
pub struct RequestTrace {
    /// `x-request-id`, the saga's correlation id when present.
    pub request_id: Option<String>,
    /// W3C `traceparent`.
    pub traceparent: Option<String>,
}

impl RequestTrace {
    /// Reads `x-request-id` and `traceparent` from request metadata.
    pub fn from_metadata(metadata: &MetadataMap) -> Self {
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Self {
            request_id: text("x-request-id"),
            traceparent: text("traceparent"),
        }
    }
}

/// The order operations, over the service's database and the product catalogue.
#[derive(Debug, Clone)]
pub struct Orders {
    pool: PgPool,
    catalog: Catalog,
}

impl Orders {
    /// Orders in `pool`, checked against `catalog`.
    pub fn new(pool: PgPool, catalog: Catalog) -> Self {
        Self { pool, catalog }
    }

    /// Creates a PENDING order and its `OrderCreated` event, after checking the products exist.
    pub async fn create(
        &self,
        caller: &Identity,
        trace: &RequestTrace,
        request: &pb::CreateOrderRequest,
    ) -> Result<pb::Order, OrderError> {
        let order = NewOrder::try_from(request).map_err(OrderError::Invalid)?;
        let ids: Vec<Uuid> = order.lines.iter().map(|l| l.product_id).collect();
        let missing = self.catalog.missing(&ids, caller).await?;
        if !missing.is_empty() {
            let violations = order
                .lines
                .iter()
                .enumerate()
                .filter(|(_, line)| missing.contains(&line.product_id))
                .map(|(i, line)| {
                    Violation::new(
                        format!("items[{i}].product_id"),
                        format!("no product {}", line.product_id),
                    )
                })
                .collect();
            return Err(OrderError::Invalid(violations));
        }
        let id = Uuid::now_v7();
        let correlation_id = trace.request_id.clone().unwrap_or_else(|| id.to_string());
        let event = OrderCreated {
            metadata: EventMetadata::new(correlation_id.clone(), None, crate::SERVICE_NAME),
            order_id: id.to_string(),
            user_id: caller.user_id.to_string(),
            lines: order
                .lines
                .iter()
                .map(|l| OrderCreatedLine {
                    product_id: l.product_id.to_string(),
                    quantity: l.quantity,
                })
                .collect(),
        };
        let mut tx = self.pool.begin().await?;
        let row = store::insert_order(&mut tx, id, caller.user_id, &order).await?;
        let transition = Transition {
            order_id: id,
            from: None,
            to: OrderStatus::Pending,
            event_id: &event.metadata.event_id,
            event_type: "CreateOrder",
            reason: "",
        };
        store::record_transition(&mut tx, &transition).await?;
        let headers = EventHeaders {
            correlation_id,
            traceparent: trace.traceparent.clone(),
        };
        outbox::enqueue(&mut tx, &AnyEvent::from(event), &headers).await?;
        tx.commit().await?;
        let lines = order
            .lines
            .iter()
            .map(|l| LineRow {
                product_id: l.product_id,
                quantity: l.quantity,
                unit_price_minor: None,
            })
            .collect();
        Ok(to_pb(&row, lines))
    }

    /// The order, if the caller owns it or is an admin.
    pub async fn get(&self, caller: &Identity, order_id: &str) -> Result<pb::Order, OrderError> {
        let row = self.visible(caller, order_id).await?;
        let mut lines = self.lines(&[row.id]).await?;
        Ok(to_pb(&row, lines.remove(&row.id).unwrap_or_default()))
    }

    /// One page of the caller's orders (everyone's for an admin), newest first.
    pub async fn list(
        &self,
        caller: &Identity,
        request: &pb::ListOrdersRequest,
    ) -> Result<pb::ListOrdersResponse, OrderError> {
        let page = PageRequest::parse(request.page_size, &request.page_token, LIST_SCOPE)
            .map_err(OrderError::Invalid)?;
        let status = match OrderStatus::from_pb(request.status) {
            Some(status) => Some(status),
            None if pb::OrderStatus::try_from(request.status).is_ok() => None,
            None => {
                return Err(OrderError::Invalid(vec![Violation::new(
                    "status",
                    "is not an order status",
                )]));
            }
        };
        let owner = (!caller.is_admin()).then_some(caller.user_id);
        let rows = store::list_orders(&self.pool, owner, status, &page).await?;
        let page = Page::from_rows(rows, page.size, LIST_SCOPE, OrderRow::cursor);
        let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
        let mut lines = self.lines(&ids).await?;
        Ok(pb::ListOrdersResponse {
            orders: page
                .items
                .iter()
                .map(|row| to_pb(row, lines.remove(&row.id).unwrap_or_default()))
                .collect(),
            next_page_token: page.next_page_token,
        })
    }

    /// Cancels an order that is not final yet; cancelling a cancelled order changes nothing.
    pub async fn cancel(
        &self,
        caller: &Identity,
        trace: &RequestTrace,
        request: &pb::CancelOrderRequest,
    ) -> Result<pb::Order, OrderError> {
        let id = parse_id(&request.order_id)?;
        let mut tx = self.pool.begin().await?;
        let row = store::lock_order(&mut tx, id)
            .await?
            .filter(|row| caller.is_admin() || row.user_id == caller.user_id)
            .ok_or_else(|| OrderError::NotFound(request.order_id.clone()))?;
        let current = row.status();
        let row = match current {
            OrderStatus::Cancelled => row,
            status if status.is_terminal() => return Err(OrderError::NotCancellable(status)),
            _ => {
                let reason = if request.reason.trim().is_empty() {
                    "cancelled by the customer"
                } else {
                    request.reason.trim()
                };
                let correlation_id = trace.request_id.clone().unwrap_or_else(|| id.to_string());
                let event = OrderCancelled {
                    metadata: EventMetadata::new(correlation_id.clone(), None, crate::SERVICE_NAME),
                    order_id: id.to_string(),
                    user_id: row.user_id.to_string(),
                    reason: OrderCancelReason::CustomerRequested,
                    detail: Some(reason.to_owned()),
                };
                let updated =
                    store::set_status(&mut tx, id, OrderStatus::Cancelled, reason).await?;
                let transition = Transition {
                    order_id: id,
                    from: Some(current),
                    to: OrderStatus::Cancelled,
                    event_id: &event.metadata.event_id,
                    event_type: "CancelOrder",
                    reason,
                };
                store::record_transition(&mut tx, &transition).await?;
                let headers = EventHeaders {
                    correlation_id,
                    traceparent: trace.traceparent.clone(),
                };
                outbox::enqueue(&mut tx, &AnyEvent::from(event), &headers).await?;
                updated
            }
        };
        tx.commit().await?;
        let mut lines = self.lines(&[row.id]).await?;
        Ok(to_pb(&row, lines.remove(&row.id).unwrap_or_default()))
    }

    /// Every status change of an order the caller may see, oldest first.
    pub async fn history(
        &self,
        caller: &Identity,
        order_id: &str,
    ) -> Result<pb::ListOrderStatusHistoryResponse, OrderError> {
        let row = self.visible(caller, order_id).await?;
        let changes = store::history(&self.pool, row.id)
            .await?
            .iter()
            .map(change_to_pb)
            .collect();
        Ok(pb::ListOrderStatusHistoryResponse { changes })
    }

    /// The order if the caller may see it; another customer's order is NOT_FOUND, so order ids
    /// reveal nothing.
    async fn visible(&self, caller: &Identity, order_id: &str) -> Result<OrderRow, OrderError> {
        let id = parse_id(order_id)?;
        store::find_order(&self.pool, id)
            .await?
            .filter(|row| caller.is_admin() || row.user_id == caller.user_id)
            .ok_or_else(|| OrderError::NotFound(order_id.to_owned()))
    }

    async fn lines(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<LineRow>>, OrderError> {
        let mut by_order: HashMap<Uuid, Vec<LineRow>> = HashMap::new();
        for (order_id, line) in store::lines_of(&self.pool, ids).await? {
            by_order.entry(order_id).or_default().push(line);
        }
        Ok(by_order)
    }
}

fn parse_id(raw: &str) -> Result<Uuid, OrderError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        OrderError::Invalid(vec![Violation::new(
            "order_id",
            "must be an order id (UUID)",
        )])
    })
}

fn timestamp(
    at: sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>,
) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

fn money(amount: Option<i64>, currency: Option<&str>) -> Option<Money> {
    Some(Money {
        amount_minor: amount?,
        currency_code: currency?.to_owned(),
    })
}

fn to_pb(row: &OrderRow, lines: Vec<LineRow>) -> pb::Order {
    let currency = row.currency.as_deref();
    pb::Order {
        order_id: row.id.to_string(),
        user_id: row.user_id.to_string(),
        status: row.status().to_pb().into(),
        lines: lines
            .into_iter()
            .map(|line| pb::OrderLine {
                product_id: line.product_id.to_string(),
                quantity: line.quantity,
                unit_price: money(line.unit_price_minor, currency),
            })
            .collect(),
        total: money(row.total_minor, currency),
        failure_reason: row.failure_reason.clone(),
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
    }
}

fn change_to_pb(row: &HistoryRow) -> pb::StatusChange {
    let status = |raw: Option<&str>| {
        raw.and_then(OrderStatus::from_db)
            .map_or(pb::OrderStatus::Unspecified, OrderStatus::to_pb)
    };
    pb::StatusChange {
        from_status: status(row.from_status.as_deref()).into(),
        to_status: status(Some(&row.to_status)).into(),
        event_id: row.event_id.clone(),
        event_type: row.event_type.clone(),
        reason: row.reason.clone(),
        change_time: Some(timestamp(row.changed_at)),
    }
}
