//! A sale as received by webapp.php, every parameter parsed, with webapp.php's defaults;
//! the catalog and the shop's rows are checked when it is recorded.

use crate::model::Client;
use crate::money::Money;
use crate::payment::PaymentParam;

/// The client of a sale.
#[derive(Clone, Debug)]
pub enum ClientInput {
    /// No client.
    None,
    /// `idClient`: a client of the shop.
    Existing(i64),
    /// Created, or the shop's client with the same e-mail reused.
    New(Box<Client>),
}

/// A sale as received, with every parameter parsed; the store checks the catalog and the
/// shop's rows.
#[derive(Clone, Debug)]
pub struct SaleInput {
    /// `itemsList[]`, as sent.
    pub entries: Vec<String>,
    /// `payment`.
    pub payment: PaymentParam,
    /// `paymentAmount`; `None`: the amount due.
    pub payment_amount: Option<Money>,
    /// `idUser`; `None`: the shop's `webservice` user.
    pub user_id: Option<i64>,
    /// `idClient` or `client[...]`.
    pub client: ClientInput,
    /// `deliveryMethod`, 0 to 6.
    pub delivery_method: i64,
    /// `idcaisse`; `None`: the shop's Web cash box.
    pub cash_box_id: Option<i64>,
    /// `idtable`.
    pub table_id: Option<i64>,
    /// `numcouverts`.
    pub covers: Option<i64>,
    /// `pagerNum`.
    pub pager_num: Option<String>,
    /// `publicComment` (printed on receipts).
    pub public_comment: String,
    /// `privateComment`.
    pub private_comment: String,
    /// Microseconds since the epoch; `None` means now.
    pub value_date: Option<i64>,
}

impl SaleInput {
    /// A sale of `entries` paid by `payment`, with webapp.php's defaults for everything
    /// else: the `webservice` user, the Web cash box, delivery method 4, no client,
    /// table or comments, dated now.
    pub fn new(entries: Vec<String>, payment: PaymentParam) -> SaleInput {
        SaleInput {
            entries,
            payment,
            payment_amount: None,
            user_id: None,
            client: ClientInput::None,
            delivery_method: 4,
            cash_box_id: None,
            table_id: None,
            covers: None,
            pager_num: None,
            public_comment: String::new(),
            private_comment: String::new(),
            value_date: None,
        }
    }
}
