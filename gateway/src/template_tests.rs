//! The path template matching table.

use super::*;

/// What a template binds when it matches: `(dotted field path, value)` pairs.
type Bound = Option<Vec<(String, String)>>;

fn bind(template: &str, path: &str) -> Bound {
    let template = PathTemplate::parse(template).expect("template parses");
    template.matches(path).map(|bindings| {
        bindings
            .into_iter()
            .map(|(field, value)| (field.join("."), value))
            .collect()
    })
}

fn pairs(items: &[(&str, &str)]) -> Bound {
    Some(
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

#[test]
fn templates_match_paths_as_the_table_says() {
    let table: &[(&str, &str, Bound)] = &[
        ("/v1/products", "/v1/products", pairs(&[])),
        ("/v1/products", "/v1/products/x", None),
        ("/v1/products", "/v1/product", None),
        (
            "/v1/products/{product_id}",
            "/v1/products/p-1",
            pairs(&[("product_id", "p-1")]),
        ),
        ("/v1/products/{product_id}", "/v1/products/", None),
        (
            "/v1/products/{product_id}",
            "/v1/products/a%20b",
            pairs(&[("product_id", "a b")]),
        ),
        (
            "/v1/items/{product.sku}",
            "/v1/items/SKU-9",
            pairs(&[("product.sku", "SKU-9")]),
        ),
        (
            "/v1/{name=shelves/*}",
            "/v1/shelves/7",
            pairs(&[("name", "shelves/7")]),
        ),
        ("/v1/{name=shelves/*}", "/v1/books/7", None),
        (
            "/v1/files/{path=**}",
            "/v1/files/a/b/c.txt",
            pairs(&[("path", "a/b/c.txt")]),
        ),
        ("/v1/files/{path=**}", "/v1/files", pairs(&[("path", "")])),
        ("/v1/*/books", "/v1/shelf/books", pairs(&[])),
        ("/v1/**/raw", "/v1/a/b/raw", pairs(&[])),
        (
            "/v1/orders/{order_id}:cancel",
            "/v1/orders/o-1:cancel",
            pairs(&[("order_id", "o-1")]),
        ),
        ("/v1/orders/{order_id}:cancel", "/v1/orders/o-1", None),
        ("/v1/orders/{order_id}", "/v1/orders/o-1:cancel", None),
        (
            "/v1/orders/{order_id}:cancel",
            "/v1/orders/o-1:refund",
            None,
        ),
        (
            "/v1/users/{user_id}/balance:topUp",
            "/v1/users/u-1/balance:topUp",
            pairs(&[("user_id", "u-1")]),
        ),
    ];
    for (template, path, expected) in table {
        assert_eq!(&bind(template, path), expected, "{template} against {path}");
    }
}

#[test]
fn malformed_templates_are_refused() {
    for bad in [
        "v1/x",
        "/v1/{id",
        "/v1//x",
        "/v1/{1id}",
        "/v1/x:",
        "/v1/a*b",
    ] {
        assert!(PathTemplate::parse(bad).is_err(), "{bad} should be refused");
    }
}

#[test]
fn literal_segments_take_precedence_over_variables() {
    let mut templates: Vec<PathTemplate> = [
        "/v1/products/{product_id}",
        "/v1/{path=**}",
        "/v1/products/featured",
        "/v1/products/{product_id}:restock",
    ]
    .iter()
    .map(|t| PathTemplate::parse(t).expect("parses"))
    .collect();
    templates.sort_by(PathTemplate::specificity);
    let order: Vec<&str> = templates.iter().map(PathTemplate::as_str).collect();
    assert_eq!(
        order,
        [
            "/v1/products/featured",
            "/v1/products/{product_id}:restock",
            "/v1/products/{product_id}",
            "/v1/{path=**}",
        ]
    );
}
