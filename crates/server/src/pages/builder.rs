//! The query builder's pages: `POST /config/webservices/build` shows the URL and the code
//! samples of the sale the fields describe; `POST /config/webservices/send` records it
//! through webapp.php in this process and shows the answer.

use super::query::{self, Choices, FieldError};
use super::{PageError, Visit, samples};
use crate::AppState;
use comptoir_core::form::Form;
use comptoir_core::model::Shop;
use comptoir_store::{StoreError, catalog, shops};

/// What the builder part of the page shows.
#[derive(Default)]
pub(super) struct Builder {
    pub(crate) choices: Choices,
    /// The fields as posted, to fill the form again.
    pub(crate) form: Form,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) url: String,
    pub(crate) samples: Vec<(&'static str, &'static str, String)>,
    /// The raw pairs to repost with "Send now".
    pub(crate) pairs: Vec<(String, String)>,
    /// The sale's webapp.php parameters, once the fields are right.
    pub(crate) params: Vec<(String, String)>,
    /// The answer of "Send now".
    pub(crate) answer: Option<String>,
}

impl Builder {
    /// The posted value of builder field `name` (templates refill the form with it).
    pub(crate) fn value(&self, name: &str) -> &str {
        self.form.get(name).unwrap_or("")
    }

    pub(crate) fn is(&self, name: &str, value: &str) -> bool {
        self.value(name) == value
    }

    pub(crate) fn has_var(&self, row: &usize, id: &i64) -> bool {
        let id = id.to_string();
        self.form.list(&format!("var{row}")).contains(&id)
    }

    /// The message of the error on `name`, if any.
    pub(crate) fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == name)
            .map(|e| e.message.as_str())
    }

    /// The value of row field `prefix``row` (`qty2`).
    pub(crate) fn row_value(&self, prefix: &str, row: &usize) -> &str {
        self.value(&format!("{prefix}{row}"))
    }

    pub(crate) fn row_is(&self, prefix: &str, row: &usize, value: &i64) -> bool {
        self.row_value(prefix, row) == value.to_string()
    }

    pub(crate) fn row_error(&self, prefix: &str, row: &usize) -> bool {
        self.error(&format!("{prefix}{row}")).is_some()
    }

    /// The variations of the item picked on `row`, else every variation.
    pub(crate) fn variations_for(&self, row: &usize) -> Vec<&(i64, i64, String)> {
        let item: Option<i64> = self.row_value("item", row).parse().ok();
        self.choices
            .variations
            .iter()
            .filter(|(_, it, _)| item.is_none_or(|i| i == *it))
            .collect()
    }

    /// The value of new-client field `client[name]`.
    pub(crate) fn client_value(&self, name: &str) -> &str {
        self.form.map_get("client", name).unwrap_or("")
    }

    pub(crate) fn client_error(&self, name: &str) -> bool {
        self.error(&format!("client[{name}]")).is_some()
    }

    pub(crate) fn built(&self) -> bool {
        !self.url.is_empty()
    }
}

/// The shop's payment methods, users, clients, items, variations and departments.
pub(super) async fn choices(state: &AppState, shop: &Shop) -> Result<Choices, PageError> {
    let shop_id = shop.id;
    let digits = shop.currency.digits();
    let (cat, users) = state
        .store
        .read(move |c| {
            Ok::<_, StoreError>((catalog::export(c, shop_id)?, shops::list_users(c, shop_id)?))
        })
        .await?;
    Ok(Choices {
        shop_id,
        currency_digits: digits,
        methods: cat
            .payment_methods
            .iter()
            .map(|m| (m.id, m.name.as_str().to_string()))
            .collect(),
        users: users
            .iter()
            .map(|u| {
                (
                    u.id,
                    format!("{} ({})", u.display_name.as_str(), u.login.as_str()),
                )
            })
            .collect(),
        clients: cat
            .clients
            .iter()
            .map(|k| (k.id, format!("#{} {}", k.id, k.display_name())))
            .collect(),
        items: cat
            .items
            .iter()
            .filter(|i| i.active)
            .map(|i| {
                (
                    i.id,
                    format!("{} — {}", i.name.as_str(), i.price.format(digits)),
                )
            })
            .collect(),
        variations: cat
            .variations
            .iter()
            .map(|v| (v.id, v.item_id, v.name.as_str().to_string()))
            .collect(),
        departments: cat
            .departments
            .iter()
            .map(|d| (d.id, d.name.as_str().to_string()))
            .collect(),
    })
}

/// The value date picker's text (`2026-12-01T14:30`) in the shop's zone, as Unix seconds.
fn value_date(text: &str, zone: &jiff::tz::TimeZone) -> Option<i64> {
    let dt: jiff::civil::DateTime = text.parse().ok()?;
    Some(dt.to_zoned(zone.clone()).ok()?.timestamp().as_second())
}

/// Checks the posted builder and, when it is right, makes the URL and the samples.
pub(super) fn build(
    state: &AppState,
    shop: &Shop,
    choices: Choices,
    pairs: Vec<(String, String)>,
) -> Builder {
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "csrf").collect();
    let form =
        Form::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_or_default();
    let zone = super::orders::zone(shop);
    let result = query::build(&form, &choices, |t| value_date(t, &zone));
    let mut b = Builder {
        choices,
        form,
        pairs,
        ..Builder::default()
    };
    match result {
        Ok(params) => {
            b.url = samples::url(&state.base_url, &params);
            b.samples = samples::all(&state.base_url, &params);
            b.params = params;
        }
        Err(errors) => b.errors = errors,
    }
    b
}

/// Records the sale through webapp.php in this process (no network hop), as a
/// form-encoded POST like the samples; the answer's body.
pub(super) async fn send(
    state: &AppState,
    params: &[(String, String)],
) -> Result<String, PageError> {
    use tower_service::Service;
    let body = params
        .iter()
        .map(|(k, v)| format!("{}={}", samples::encode(k), samples::encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let request = axum::http::Request::post("/workers/webapp.php")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body))
        .map_err(|e| PageError::Internal(format!("send now: {e}")))?;
    let mut workers = crate::workers::router().with_state(state.clone());
    let response = workers
        .call(request)
        .await
        .map_err(|e| PageError::Internal(format!("send now: {e}")))?;
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .map_err(|e| PageError::Internal(format!("send now: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Used by the template: the visit's language for delivery method names.
pub(super) fn delivery_names(v: &Visit) -> Vec<(&'static str, &'static str)> {
    query::DELIVERY_METHODS
        .iter()
        .map(|(key, n)| (*n, v.t(key)))
        .collect()
}
