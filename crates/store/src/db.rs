//! One interface over two databases: SQLite (embedded, by default) and PostgreSQL.
//! Queries are written once with `$1` placeholders and run through [`Conn`].

use crate::StoreError;
use crate::pg_client::PgClient;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use std::fmt;

/// Which database a connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A parameter or a column value. Integers are always 64-bit; booleans are booleans.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Null,
    I64(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    /// A PostgreSQL array parameter of integers, booleans or texts (elements of one kind,
    /// or null), such as `unnest($1::bigint[])` takes; SQLite has no arrays.
    Array(Vec<Value>),
}

/// `From<$t> for Value`, each by the conversion given.
macro_rules! value_from {
    ($($t:ty => $f:expr),+ $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                $f(v)
            }
        }
    )+};
}

value_from! {
    i64 => Value::I64,
    bool => Value::Bool,
    &str => |v: &str| Value::Text(v.to_string()),
    String => Value::Text,
    &String => |v: &String| Value::Text(v.clone()),
    Vec<u8> => Value::Bytes,
    &[u8] => |v: &[u8]| Value::Bytes(v.to_vec()),
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// What [`Conn::query_each`] hands each row to.
pub type EachRow<'f> = dyn FnMut(Row) -> Result<(), StoreError> + 'f;

/// The result of a statement.
pub type Sql<T> = Result<T, StoreError>;

/// Builds a parameter slice: `params![shop_id, name]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::db::Value] };
    ($($v:expr),+ $(,)?) => { &[$($crate::db::Value::from($v)),+] as &[$crate::db::Value] };
}

/// A result row; columns are read by position, in the order the query names them.
#[derive(Clone, Debug, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn col(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Decode(format!("column {i} is missing")))
    }

    pub fn i64(&self, i: usize) -> Result<i64, StoreError> {
        match self.col(i)? {
            Value::I64(v) => Ok(*v),
            Value::Bool(b) => Ok(i64::from(*b)),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected an integer, got {other:?}"
            ))),
        }
    }

    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.col(i)? {
            Value::Null => Ok(None),
            _ => self.i64(i).map(Some),
        }
    }

    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.col(i)? {
            Value::Bool(b) => Ok(*b),
            Value::I64(v) => Ok(*v != 0),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected a boolean, got {other:?}"
            ))),
        }
    }

    pub fn str(&self, i: usize) -> Result<&str, StoreError> {
        match self.col(i)? {
            Value::Text(s) => Ok(s),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected a text, got {other:?}"
            ))),
        }
    }

    pub fn string(&self, i: usize) -> Result<String, StoreError> {
        self.str(i).map(str::to_string)
    }

    pub fn opt_string(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.col(i)? {
            Value::Null => Ok(None),
            _ => self.string(i).map(Some),
        }
    }

    pub fn bytes(&self, i: usize) -> Result<&[u8], StoreError> {
        match self.col(i)? {
            Value::Bytes(b) => Ok(b),
            Value::Text(s) => Ok(s.as_bytes()),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected bytes, got {other:?}"
            ))),
        }
    }
}

/// A database connection, inside a transaction when handed out by `Store::write`.
pub trait Conn {
    fn backend(&self) -> Backend;
    /// Runs a statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    /// Runs a query and collects its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;
    /// Runs a query and hands rows one by one to `f`, without collecting them.
    fn query_each(&mut self, sql: &str, params: &[Value], f: &mut EachRow<'_>) -> Sql<()>;
    /// Runs several statements separated by `;` (migrations), without parameters.
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// [`Conn::query`] for reference data that the writes it runs beside do not change
    /// (catalog, payment methods, users, cash boxes): the SQLite writer answers a repeated
    /// query from memory for the rest of its batch, during which no other connection can
    /// write. Elsewhere it is `query`.
    fn query_cached(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.query(sql, params)
    }
    /// Runs an `insert … returning id` of one row and gives the id.
    fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64, StoreError> {
        let mut rows = self.query(sql, params)?;
        match (rows.pop(), rows.is_empty()) {
            (Some(r), true) => r.i64(0),
            _ => Err(StoreError::Decode("expected one inserted row".into())),
        }
    }
}

impl dyn Conn + '_ {
    /// The one row of a query, or `None`.
    pub fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        let mut rows = self.query(sql, params)?;
        if rows.len() > 1 {
            return Err(StoreError::Decode("expected at most one row".into()));
        }
        Ok(rows.pop())
    }

    /// [`Conn::query_cached`] of at most one row.
    pub fn query_opt_cached(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        let mut rows = self.query_cached(sql, params)?;
        if rows.len() > 1 {
            return Err(StoreError::Decode("expected at most one row".into()));
        }
        Ok(rows.pop())
    }

    /// The one row of a query; an error when there is none.
    pub fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Decode("expected one row, got none".into()))
    }
}

/// Rewrites `$1` placeholders into SQLite's numbered `?1` form (outside string literals).
/// Runs on every statement, so it scans bytes: `$` and `?` are ASCII, the rest is copied.
pub(crate) fn sqlite_placeholders(sql: &str) -> std::borrow::Cow<'_, str> {
    let b = sql.as_bytes();
    if !b.contains(&b'$') {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut in_str = false;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\'' {
            in_str = !in_str;
        }
        if c == b'$' && !in_str && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            out.push(b'?');
        } else {
            out.push(c);
        }
    }
    // Only an ASCII byte was replaced by another: still UTF-8.
    std::borrow::Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| sql.to_string()))
}

pub(crate) struct SqliteConn(pub(crate) rusqlite::Connection);

impl SqliteConn {
    /// The cached statement for `sql`. SQLite reads `$1` as a parameter named "$1", numbered
    /// in order of first appearance: when that order is 1, 2, 3… (nearly always) the text
    /// is prepared as it is; otherwise with its `$N` rewritten into `?N`.
    fn prepare(&self, sql: &str) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        if dollar_parameters_in_order(sql) {
            return Ok(self.0.prepare_cached(sql)?);
        }
        Ok(self.0.prepare_cached(&sqlite_placeholders(sql))?)
    }
}

/// Whether the `$N` placeholders of `sql` (outside string literals) first appear in the
/// order 1, 2, 3…, so that SQLite's own numbering of them is `N`.
fn dollar_parameters_in_order(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut seen = 0u64;
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c == b'\'' {
            in_str = !in_str;
        } else if c == b'$' && !in_str {
            let start = i;
            let mut n = 0u64;
            while i < b.len() && b[i].is_ascii_digit() && i - start < 6 {
                n = n * 10 + u64::from(b[i] - b'0');
                i += 1;
            }
            if i == start {
                continue;
            }
            if n == seen + 1 {
                seen = n;
            } else if n == 0 || n > seen {
                return false;
            }
        }
    }
    true
}

impl rusqlite::types::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::I64(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Array(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite takes no array parameters".into(),
                ));
            }
        })
    }
}

fn sqlite_row(row: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::I64(v),
            // No column is declared REAL: a float here is a stray value, kept exact as text.
            ValueRef::Real(f) => Value::Text(f.to_string()),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        });
    }
    Ok(Row(out))
}

impl Conn for SqliteConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut st = self.prepare(sql)?;
        Ok(st.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    /// Without its `returning id`, which makes SQLite build a temporary b-tree for every
    /// statement: the id is the rowid of the row just inserted.
    fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64, StoreError> {
        let Some(plain) = sql.trim_end().strip_suffix("returning id") else {
            return Err(StoreError::Decode(
                "insert_id expects an insert ending in `returning id`".into(),
            ));
        };
        if self.execute(plain, params)? != 1 {
            return Err(StoreError::Decode("expected one inserted row".into()));
        }
        Ok(self.0.last_insert_rowid())
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut out = Vec::new();
        self.query_each(sql, params, &mut |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    fn query_each(&mut self, sql: &str, params: &[Value], f: &mut EachRow<'_>) -> Sql<()> {
        let mut st = self.prepare(sql)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(row) = rows.next()? {
            f(sqlite_row(row, n)?)?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.execute_batch(sql)?)
    }
}

/// Run on each connection the store opens (pool, lanes, upkeep): JIT compilation off,
/// PostgreSQL (11 and later, where it is on by default) compiles a statement whose
/// estimated cost passes `jit_above_cost` (100,000) before running it, whatever the rows
/// it then reads: 60–400 ms of CPU. The store's statements are key lookups and bounded
/// walks, some estimated far above that: the webhook lease on a backlog of pending events
/// (every event is pending while a shop has webhooks off) was estimated at millions and
/// compiled at each look (every 250 ms), for a statement that ran in microseconds: half the
/// database's CPU per sale in the sales benchmark (docs/performance.md). A server
/// without the setting (before 11) is left as it is.
///
/// And no sequential scans where an index serves. Every table's keys lead with shop_id,
/// and every statement of the store reads one shop's rows; on a small table (the
/// catalogs of a hundred shops, a few pages) the planner prefers reading all of it,
/// every shop's rows, to an index probe: a sale's lookups read the whole `departments`
/// once per item and the whole `payment_methods` (measured with 100 shops: 600 rows for
/// one, 8 % of the database's CPU in sequential scans). The lanes already run so (`set
/// local`, pg_writer.rs); with the setting here a pooled connection's reads do too.
/// A statement with no index to use still scans.
const SESSION_SETTINGS: &str = "select set_config('jit', 'off', false) \
     where current_setting('jit', true) is not null; \
     select set_config('enable_seqscan', 'off', false)";

pub(crate) struct PgConn {
    client: Option<PgClient>,
    /// Statements prepared on this connection, by SQL text: a query then costs one round
    /// trip instead of two (prepare, execute).
    statements: std::collections::HashMap<String, postgres::Statement>,
    /// Set when an error showed the connection is gone, even before the client knows it
    /// (the server's "terminating connection" error arrives before the socket closes).
    broken: bool,
}

impl PgConn {
    pub(crate) fn new(client: impl Into<PgClient>) -> PgConn {
        PgConn {
            client: Some(client.into()),
            statements: std::collections::HashMap::new(),
            broken: false,
        }
    }

    /// A connection of the store's own: [`PgConn::new`] with [`SESSION_SETTINGS`] applied.
    pub(crate) fn open(client: impl Into<PgClient>) -> Result<PgConn, StoreError> {
        let mut c = PgConn::new(client);
        c.batch(SESSION_SETTINGS)?;
        Ok(c)
    }

    /// Notes whether `e` means the connection cannot be used again, and passes it on.
    fn note(&mut self, e: postgres::Error) -> StoreError {
        // Class 08: connection exception; 57P0x: the server is ending the session. An
        // error that is no SQL error at all is the socket's or the protocol's.
        let session_over = e
            .code()
            .is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"));
        if e.is_closed() || session_over || e.as_db_error().is_none() {
            self.broken = true;
        }
        StoreError::Postgres(e)
    }

    fn client(&mut self) -> &mut PgClient {
        self.client.as_mut().expect("present until dropped")
    }

    /// The statement for `sql`, prepared once per connection.
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client().prepare(sql).map_err(|e| self.note(e))?;
        // Bounded: the application has a fixed set of queries; a runaway caller resets it.
        if self.statements.len() >= 512 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.broken || self.client.as_ref().is_none_or(PgClient::is_closed)
    }

    /// Runs two queries sent together, in one round trip: the second starts once the
    /// first is done (with a snapshot of its own). Should the first fail, the second's
    /// answer is not used and the first's error is returned.
    pub(crate) fn query_then_query(
        &mut self,
        first: (&str, &[Value]),
        second: (&str, &[Value]),
    ) -> Result<(Vec<Row>, Vec<Row>), StoreError> {
        let (a, b) = (self.statement(first.0)?, self.statement(second.0)?);
        let answers = self
            .client()
            .query_then_query((&a, &pg_params(first.1)), (&b, &pg_params(second.1)));
        let (one, two) = answers.map_err(|e| self.note(e))?;
        let one = one.map_err(|e| self.note(e))?;
        let two = two.map_err(|e| self.note(e))?;
        let rows =
            |rows: Vec<postgres::Row>| rows.iter().map(pg_row).collect::<Result<Vec<_>, _>>();
        Ok((rows(one)?, rows(two)?))
    }

    /// Runs `sql` and then `commit`, sent together: one round trip. A statement that
    /// fails in the database leaves the transaction failed, which the `commit` then
    /// ends by rolling it back.
    pub(crate) fn execute_then_commit(&mut self, sql: &str, params: &[Value]) -> Committed {
        let st = match self.statement(sql) {
            Ok(st) => st,
            Err(e) => return Committed::NotBeforeItsStatementFailed(e),
        };
        let answers = self
            .client()
            .execute_then_batch(&st, &pg_params(params), "commit");
        match answers {
            Ok((Ok(_), Ok(()))) => Committed::Yes,
            // The database refused the statement: nothing of the transaction commits.
            Ok((Err(e), _)) if e.as_db_error().is_some() => {
                Committed::NotBeforeItsStatementFailed(self.note(e))
            }
            Ok((Err(e), _) | (Ok(_), Err(e))) | Err(e) => Committed::Unknown(self.note(e)),
        }
    }
}

/// How [`PgConn::execute_then_commit`] ended.
pub(crate) enum Committed {
    Yes,
    /// Nothing was committed: the statement failed, the transaction was rolled back.
    NotBeforeItsStatementFailed(StoreError),
    /// The commit failed or its answer was lost: it may have committed all the same.
    Unknown(StoreError),
}

impl Drop for PgConn {
    /// The sync client closes by blocking on its own runtime, which is forbidden on an
    /// async worker thread: close it on a plain thread when dropped from one.
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::I64(v), &Type::INT8) => v.to_sql(ty, out),
            (Value::I64(v), &Type::INT4) => i32::try_from(*v)?.to_sql(ty, out),
            (Value::I64(v), &Type::INT2) => i16::try_from(*v)?.to_sql(ty, out),
            (Value::I64(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (Value::I64(v), t) if is_text(t) => v.to_string().to_sql(&Type::TEXT, out),
            (Value::Bool(b), &Type::BOOL) => b.to_sql(ty, out),
            (Value::Bool(b), &Type::INT8) => i64::from(*b).to_sql(ty, out),
            (Value::Text(s), t) if is_text(t) => s.as_str().to_sql(&Type::TEXT, out),
            (Value::Bytes(b), &Type::BYTEA) => b.as_slice().to_sql(ty, out),
            (Value::Array(items), t) => array_to_sql(items, t, out),
            (v, t) => Err(format!("cannot bind {v:?} to a parameter of type {t}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// An array parameter, bound as PostgreSQL's array of its elements' type.
fn array_to_sql(
    items: &[Value],
    ty: &Type,
    out: &mut postgres::types::private::BytesMut,
) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
    let postgres::types::Kind::Array(member) = ty.kind() else {
        return Err(format!("cannot bind an array to a parameter of type {ty}").into());
    };
    let bad = |v: &Value| format!("cannot bind {v:?} in an array of {member}");
    match *member {
        Type::INT8 => items
            .iter()
            .map(|v| match v {
                Value::Null => Ok(None),
                Value::I64(i) => Ok(Some(*i)),
                v => Err(bad(v)),
            })
            .collect::<Result<Vec<Option<i64>>, _>>()?
            .to_sql(ty, out),
        Type::BOOL => items
            .iter()
            .map(|v| match v {
                Value::Null => Ok(None),
                Value::Bool(b) => Ok(Some(*b)),
                v => Err(bad(v)),
            })
            .collect::<Result<Vec<Option<bool>>, _>>()?
            .to_sql(ty, out),
        ref m if is_text(m) => items
            .iter()
            .map(|v| match v {
                Value::Null => Ok(None),
                Value::Text(s) => Ok(Some(s.as_str())),
                v => Err(bad(v)),
            })
            .collect::<Result<Vec<Option<&str>>, _>>()?
            .to_sql(ty, out),
        _ => Err(format!("cannot bind an array of {member}").into()),
    }
}

fn is_text(t: &Type) -> bool {
    matches!(
        *t,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

fn pg_row(row: &postgres::Row) -> Result<Row, StoreError> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::I64),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::I64(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::I64(v.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                row.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            ref t => {
                return Err(StoreError::Decode(format!(
                    "column {} has unsupported type {t}",
                    col.name()
                )));
            }
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

fn pg_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgConn {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        let r = self.client().execute(&st, &pg_params(params));
        r.map_err(|e| self.note(e))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        let r = self.client().query(&st, &pg_params(params));
        r.map_err(|e| self.note(e))?.iter().map(pg_row).collect()
    }

    fn query_each(&mut self, sql: &str, params: &[Value], f: &mut EachRow<'_>) -> Sql<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let st = self.statement(sql)?;
        // The callback's own error stops the rows; a database error marks the connection.
        let mut stopped = None;
        let result = match self.client().query_raw(&st, params.iter()) {
            Err(e) => Err(e),
            Ok(mut it) => loop {
                match it.next() {
                    Ok(Some(row)) => {
                        if let Err(e) = pg_row(&row).and_then(&mut *f) {
                            stopped = Some(e);
                            break Ok(());
                        }
                    }
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            },
        };
        result.map_err(|e| self.note(e))?;
        stopped.map_or(Ok(()), Err)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let r = self.client().batch_execute(sql);
        r.map_err(|e| self.note(e))
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> SqliteConn {
        SqliteConn(rusqlite::Connection::open_in_memory().unwrap())
    }

    #[test]
    fn dollar_parameters_bind_by_number_in_any_order() {
        let mut c = memory();
        let row = (&mut c as &mut dyn Conn)
            .query_one("select $1, $2, $1", &[Value::I64(1), Value::I64(2)])
            .unwrap();
        assert_eq!(row.0, vec![Value::I64(1), Value::I64(2), Value::I64(1)]);
        // $2 appears first: SQLite alone would number it 1; the rewrite keeps $N = N.
        let row = (&mut c as &mut dyn Conn)
            .query_one("select $2, $1, '$1'", &[Value::I64(1), Value::I64(2)])
            .unwrap();
        assert_eq!(
            row.0,
            vec![Value::I64(2), Value::I64(1), Value::Text("$1".into())]
        );
    }

    #[test]
    fn insert_id_gives_the_new_rowid_and_refuses_no_row() {
        let mut c = memory();
        let c: &mut dyn Conn = &mut c;
        c.batch("create table t (id integer primary key, v text unique)")
            .unwrap();
        let sql = "insert into t (v) values ($1) on conflict (v) do nothing returning id";
        assert_eq!(c.insert_id(sql, &[Value::from("a")]).unwrap(), 1);
        assert_eq!(c.insert_id(sql, &[Value::from("b")]).unwrap(), 2);
        assert!(
            c.insert_id(sql, &[Value::from("a")]).is_err(),
            "nothing inserted"
        );
        assert!(c.insert_id("insert into t (v) values ('c')", &[]).is_err());
    }

    #[test]
    fn dollar_order_is_read_from_the_text() {
        assert!(dollar_parameters_in_order("select $1, $2, $1, '$9', $3"));
        assert!(dollar_parameters_in_order("select 1"));
        assert!(!dollar_parameters_in_order("select $2, $1"));
        assert!(!dollar_parameters_in_order("select $1, $3"));
        assert!(!dollar_parameters_in_order("select $0"));
        assert!(dollar_parameters_in_order("select $1, '$3', $2"));
    }

    #[test]
    fn placeholders_are_rewritten_outside_strings() {
        assert_eq!(
            sqlite_placeholders("select $1, '$2', $10"),
            "select ?1, '$2', ?10"
        );
        assert_eq!(sqlite_placeholders("select 1"), "select 1");
    }
}
