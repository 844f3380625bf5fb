//! The route table, built at start-up from the `google.api.http` options of every method in
//! the backends' descriptor sets (including `additional_bindings`); no handler is written per RPC.
//!
//! A request's route is looked up once, by the first layer that needs it ([`resolve`]), and
//! travels with the request as a [`Lookup`] extension: the metrics label, the auth guard and
//! the transcoder all read that one answer.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::http::uri::PathAndQuery;
use prost_reflect::{DynamicMessage, MethodDescriptor, ServiceDescriptor, Value};

use crate::client::Backend;
use crate::config::RouteTimeout;
use crate::template::{Bindings, PathTemplate, TemplateError};

/// One HTTP binding of one RPC.
#[derive(Debug)]
pub struct Route {
    /// The HTTP method (a custom rule's `kind` included).
    pub method: Method,
    /// The path template.
    pub template: PathTemplate,
    /// The RPC it calls.
    pub rpc: MethodDescriptor,
    /// `body`: `None`, `Some("*")` or a field path.
    pub body: Option<String>,
    /// `response_body`: the response field to answer with instead of the whole message.
    pub response_body: Option<String>,
    /// Where the call goes.
    pub backend: Arc<Backend>,
    /// The method's own deadline (`SAGAWAY_GATEWAY_ROUTE_TIMEOUTS`), replacing the gateway-wide
    /// one; a client may lower it, never raise it.
    pub deadline: Option<Duration>,
    /// The gRPC path, `/package.Service/Method`, built once.
    pub grpc_path: PathAndQuery,
    /// Requests answered and their latency, by status (see `observe`).
    pub metrics: crate::observe::RouteMetrics,
}

/// What a request's method and path lead to.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A route and the variables its template bound.
    Found(Arc<Route>, Bindings),
    /// The path is known, but only for these methods.
    WrongMethod(Vec<Method>),
    /// No route has this path.
    NotFound,
}

/// A rule that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The template does not parse.
    #[error("{rpc}: {source}")]
    Template {
        /// The RPC's full name.
        rpc: String,
        /// Why.
        #[source]
        source: TemplateError,
    },
    /// The method name is not an HTTP method.
    #[error("{rpc}: custom method {kind:?} is not an HTTP method")]
    Method {
        /// The RPC's full name.
        rpc: String,
        /// The custom kind.
        kind: String,
    },
}

/// Every route, most specific template first.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
}

impl RouteTable {
    /// Adds a route for every HTTP rule of every method of `service`, served by `backend`.
    pub fn add_service(
        &mut self,
        service: &ServiceDescriptor,
        backend: &Arc<Backend>,
    ) -> Result<(), RouteError> {
        let Some(extension) = service
            .parent_pool()
            .get_extension_by_name("google.api.http")
        else {
            return Ok(());
        };
        for rpc in service.methods() {
            let options = rpc.options();
            if !options.has_extension(&extension) {
                continue;
            }
            if let Value::Message(rule) = options.get_extension(&extension).into_owned() {
                let mut rules = vec![rule.clone()];
                if let Some(Value::List(more)) =
                    rule.get_field_by_name("additional_bindings").as_deref()
                {
                    rules.extend(more.iter().filter_map(|v| v.as_message().cloned()));
                }
                for rule in rules {
                    self.add_rule(&rpc, &rule, backend)?;
                }
            }
        }
        self.routes
            .sort_by(|a, b| a.template.specificity(&b.template));
        Ok(())
    }

    fn add_rule(
        &mut self,
        rpc: &MethodDescriptor,
        rule: &DynamicMessage,
        backend: &Arc<Backend>,
    ) -> Result<(), RouteError> {
        let text = |name: &str| {
            rule.get_field_by_name(name)
                .and_then(|v| v.as_str().map(str::to_owned))
                .filter(|s| !s.is_empty())
        };
        let pattern = ["get", "put", "post", "delete", "patch"]
            .into_iter()
            .find(|verb| rule.has_field_by_name(verb))
            .map(|verb| (verb.to_ascii_uppercase(), text(verb).unwrap_or_default()))
            .or_else(|| {
                let custom = rule.get_field_by_name("custom")?;
                let custom = custom.as_message()?;
                let field = |name: &str| {
                    custom
                        .get_field_by_name(name)
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                };
                Some((field("kind"), field("path")))
            });
        let Some((method, path)) = pattern else {
            return Ok(());
        };
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| RouteError::Method {
            rpc: rpc.full_name().to_owned(),
            kind: method.clone(),
        })?;
        let template = PathTemplate::parse(&path).map_err(|source| RouteError::Template {
            rpc: rpc.full_name().to_owned(),
            source,
        })?;
        let grpc_path = format!("/{}/{}", rpc.parent_service().full_name(), rpc.name());
        let grpc_path = PathAndQuery::try_from(grpc_path).map_err(|_| RouteError::Method {
            rpc: rpc.full_name().to_owned(),
            kind: "(not a valid gRPC path)".to_owned(),
        })?;
        let metrics = crate::observe::RouteMetrics::new(template.as_str(), &method);
        self.routes.push(Arc::new(Route {
            method,
            template,
            rpc: rpc.clone(),
            body: text("body"),
            response_body: text("response_body"),
            backend: Arc::clone(backend),
            deadline: None,
            grpc_path,
            metrics,
        }));
        Ok(())
    }

    /// The route for `method` and `path`, or why there is none.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup {
        let mut allowed = Vec::new();
        for route in &self.routes {
            let Some(bindings) = route.template.matches(path) else {
                continue;
            };
            if route.method == method {
                return Lookup::Found(Arc::clone(route), bindings);
            }
            if !allowed.contains(&route.method) {
                allowed.push(route.method.clone());
            }
        }
        allowed.sort_by_key(|method| {
            ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
                .iter()
                .position(|known| *known == method.as_str())
                .unwrap_or(usize::MAX)
        });
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            Lookup::WrongMethod(allowed)
        }
    }

    /// Gives every route of each listed method that method's deadline. A method no route calls
    /// is an error naming it: a misspelt name would otherwise leave the default silently.
    pub fn set_deadlines(&mut self, timeouts: &[RouteTimeout]) -> Result<(), String> {
        for timeout in timeouts {
            let mut found = false;
            for route in &mut self.routes {
                if route.rpc.full_name() == timeout.method {
                    // Only at start-up, before any request holds a route.
                    let route = Arc::get_mut(route).ok_or("routes are already in use")?;
                    route.deadline = Some(timeout.timeout);
                    found = true;
                }
            }
            if !found {
                return Err(format!(
                    "{} has no HTTP route (a full method name, package.Service.Method)",
                    timeout.method
                ));
            }
        }
        Ok(())
    }

    /// Every backend some route calls, once each.
    pub fn backends(&self) -> Vec<Arc<Backend>> {
        let mut backends: Vec<Arc<Backend>> = Vec::new();
        for route in &self.routes {
            if !backends.iter().any(|b| Arc::ptr_eq(b, &route.backend)) {
                backends.push(Arc::clone(&route.backend));
            }
        }
        backends
    }

    /// Every route, one line each: `GET /v1/products/{product_id} -> pkg.Service/Method`.
    pub fn describe(&self) -> Vec<String> {
        self.routes
            .iter()
            .map(|r| {
                format!(
                    "{} {} -> {}",
                    r.method,
                    r.template.as_str(),
                    &r.grpc_path.as_str()[1..]
                )
            })
            .collect()
    }

    /// The routes, most specific first.
    pub fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }
}

/// The request's [`Lookup`]: the one an outer layer already put on it, else looked up now and
/// put on it for the layers inside (the transcoder takes it off again).
pub fn resolve<'r>(table: &RouteTable, request: &'r mut Request) -> &'r Lookup {
    if request.extensions().get::<Lookup>().is_none() {
        let lookup = table.lookup(request.method(), request.uri().path());
        request.extensions_mut().insert(lookup);
    }
    request
        .extensions()
        .get::<Lookup>()
        .unwrap_or(&Lookup::NotFound)
}
