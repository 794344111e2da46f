//! The store's one door to a database driver: SQLite (rusqlite, the embedded default) or
//! PostgreSQL (the `postgres` client, for several hosts on one database). The rest of the
//! store writes its statements once, in the SQL both understand, and runs them through the
//! [`Connection`] here, which binds values and reads columns in a form neither driver leaks.
//!
//! What differs between the two and is settled here, not in each statement:
//! - placeholders: statements are written `?1, ?2, …`; PostgreSQL gets `$1, $2, …`;
//! - `LIKE`: SQLite's ignores ASCII case, PostgreSQL's does not, so PostgreSQL runs `ILIKE`;
//! - SQLite's index hints (`INDEXED BY name`), which pin a plan that SQLite's planner once
//!   got wrong, are left out: PostgreSQL's planner has the statistics to choose;
//! - types: SQLite's integers, booleans included, are PostgreSQL `BIGINT` columns; a value
//!   is bound as whatever type PostgreSQL inferred for its placeholder, and a column is read
//!   from whatever integer, boolean, text or byte type PostgreSQL returned;
//! - transactions: a savepoint outside any transaction opens one (SQLite does so itself,
//!   PostgreSQL is sent `BEGIN`).
//!
//! Statements are prepared once per connection and cached by their text on both.

use std::cell::{Cell as StdCell, RefCell};
use std::collections::HashMap;
use std::fmt;

use postgres::types::{IsNull, ToSql as PgToSql, Type, to_sql_checked};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Why a statement failed.
#[derive(Debug)]
pub enum SqlError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    /// PostgreSQL refused a statement (its text, which holds no values, and why).
    Prepare(String, postgres::Error),
    /// A statement that must return a row returned none.
    NoRow,
    /// A column held what its reader cannot take (the column's index and why).
    Column(usize, String),
    /// The connection to PostgreSQL was lost and cannot be made again yet (why).
    Lost(String),
    /// A statement was given a different number of values than it has placeholders.
    Arity {
        wanted: usize,
        given: usize,
    },
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(e) => write!(f, "{e}"),
            Self::Postgres(e) => f.write_str(&postgres_message(e)),
            Self::Prepare(sql, e) => {
                let sql: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                write!(f, "{} in {sql:?}", postgres_message(e))
            }
            Self::NoRow => f.write_str("no row"),
            Self::Lost(why) => write!(f, "the database is unreachable: {why}"),
            Self::Column(i, why) => write!(f, "column {i}: {why}"),
            Self::Arity { wanted, given } => {
                write!(f, "statement wants {wanted} values, was given {given}")
            }
        }
    }
}

/// PostgreSQL's own words for an error, with its SQLSTATE code.
fn postgres_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

impl std::error::Error for SqlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite(e) => Some(e),
            Self::Postgres(e) | Self::Prepare(_, e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Self::NoRow,
            e => Self::Sqlite(e),
        }
    }
}

impl From<postgres::Error> for SqlError {
    fn from(e: postgres::Error) -> Self {
        Self::Postgres(e)
    }
}

pub type SqlResult<T> = std::result::Result<T, SqlError>;

/// `.optional()` on a single-row result: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> SqlResult<Option<T>>;
}

impl<T> OptionalExtension<T> for SqlResult<T> {
    fn optional(self) -> SqlResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(SqlError::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A value bound to a placeholder, as both databases can take it.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be bound to a placeholder.
pub trait ToValue {
    fn value(&self) -> Val<'_>;
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn value(&self) -> Val<'_> {
                Val::Int(i64::from(*self))
            }
        }
    )*};
}
int_values!(i64, i32, i16, u32, u16, u8, bool);

impl ToValue for usize {
    fn value(&self) -> Val<'_> {
        // A length or a count: never near i64::MAX.
        Val::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for f64 {
    fn value(&self) -> Val<'_> {
        Val::Real(*self)
    }
}

impl ToValue for str {
    fn value(&self) -> Val<'_> {
        Val::Text(self)
    }
}

impl ToValue for String {
    fn value(&self) -> Val<'_> {
        Val::Text(self)
    }
}

impl ToValue for [u8] {
    fn value(&self) -> Val<'_> {
        Val::Blob(self)
    }
}

impl ToValue for Vec<u8> {
    fn value(&self) -> Val<'_> {
        Val::Blob(self)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn value(&self) -> Val<'_> {
        (**self).value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn value(&self) -> Val<'_> {
        match self {
            Some(v) => v.value(),
            None => Val::Null,
        }
    }
}

impl ToValue for Val<'_> {
    fn value(&self) -> Val<'_> {
        *self
    }
}

/// The values of one statement, in placeholder order.
pub type Params<'a> = &'a [&'a dyn ToValue];

/// `params![a, b]`: the values of a statement (any mix of [`ToValue`] types).
macro_rules! params {
    () => {
        &[] as $crate::store::sql::Params<'_>
    };
    ($($value:expr),+ $(,)?) => {
        &[$(&$value as &dyn $crate::store::sql::ToValue),+] as $crate::store::sql::Params<'_>
    };
}
pub(crate) use params;

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Val::Null => ValueRef::Null,
            Val::Int(i) => ValueRef::Integer(i),
            Val::Real(r) => ValueRef::Real(r),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
            Val::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl PgToSql for Val<'_> {
    /// Bound as the type PostgreSQL inferred for the placeholder: an integer may fill an
    /// `int4` or a `boolean` as well as a `bigint`, which SQLite never had to tell apart.
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match *self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer cannot fill a {ty} placeholder").into()),
            },
            Val::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                Type::FLOAT4 => (r as f32).to_sql(ty, out),
                _ => Err(format!("a real number cannot fill a {ty} placeholder").into()),
            },
            Val::Text(s) => s.to_sql(ty, out),
            Val::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, where the value's own kind is known.
        true
    }

    to_sql_checked!();
}

/// A column's value as read, from either database.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl<'a> Cell<'a> {
    /// The same value, to bind elsewhere (copying between databases).
    pub fn as_value(&self) -> Val<'a> {
        match *self {
            Cell::Null => Val::Null,
            Cell::Int(i) => Val::Int(i),
            Cell::Real(r) => Val::Real(r),
            Cell::Text(s) => Val::Text(s),
            Cell::Blob(b) => Val::Blob(b),
        }
    }
}

/// What a column can be read as.
pub trait FromColumn: Sized {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String>;
}

fn wrong(cell: Cell<'_>, wanted: &str) -> String {
    let found = match cell {
        Cell::Null => "NULL",
        Cell::Int(_) => "an integer",
        Cell::Real(_) => "a real number",
        Cell::Text(_) => "text",
        Cell::Blob(_) => "bytes",
    };
    format!("{found} where {wanted} was expected")
}

impl FromColumn for i64 {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Int(i) => Ok(i),
            other => Err(wrong(other, "an integer")),
        }
    }
}

macro_rules! narrow_ints {
    ($($t:ty),*) => {$(
        impl FromColumn for $t {
            fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
                let wide = i64::from_cell(cell)?;
                <$t>::try_from(wide).map_err(|_| format!("{wide} is out of range"))
            }
        }
    )*};
}
narrow_ints!(i32, u32, u16, u8, usize);

impl FromColumn for bool {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        Ok(i64::from_cell(cell)? != 0)
    }
}

impl FromColumn for f64 {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Real(r) => Ok(r),
            Cell::Int(i) => Ok(i as f64),
            other => Err(wrong(other, "a number")),
        }
    }
}

impl FromColumn for String {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => Ok(s.to_owned()),
            other => Err(wrong(other, "text")),
        }
    }
}

impl FromColumn for Vec<u8> {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Blob(b) => Ok(b.to_vec()),
            other => Err(wrong(other, "bytes")),
        }
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            cell => T::from_cell(cell).map(Some),
        }
    }
}

/// Reads a text column as a type that parses its own names (a state, a class).
macro_rules! named_column {
    ($t:ty, $what:literal) => {
        impl $crate::store::sql::FromColumn for $t {
            fn from_cell(
                cell: $crate::store::sql::Cell<'_>,
            ) -> ::std::result::Result<Self, String> {
                let name = <String as $crate::store::sql::FromColumn>::from_cell(cell)?;
                <$t>::parse(&name).ok_or_else(|| format!("unknown {} {name:?}", $what))
            }
        }
    };
}
pub(crate) use named_column;

/// A column's position in a row (a plain integer literal reads as one).
pub trait RowIndex {
    fn position(self) -> usize;
}

impl RowIndex for usize {
    fn position(self) -> usize {
        self
    }
}

/// One row of a result.
pub enum Row<'a> {
    Lite(&'a rusqlite::Row<'a>),
    Pg(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as `T`. The first type parameter is there so that calls
    /// written `get::<_, T>(i)` read as they always did.
    pub fn get<I: RowIndex, T: FromColumn>(&self, index: I) -> SqlResult<T> {
        let index = index.position();
        let cell = match self {
            Row::Lite(row) => lite_cell(row.get_ref(index)?),
            Row::Pg(row) => pg_cell(row, index)?,
        };
        T::from_cell(cell).map_err(|why| SqlError::Column(index, why))
    }
}

pub(super) fn lite_cell(value: ValueRef<'_>) -> Cell<'_> {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(r) => Cell::Real(r),
        // SQLite stores what it was given; the store only ever gives it UTF-8.
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Cell::Text(s),
            Err(_) => Cell::Blob(t),
        },
        ValueRef::Blob(b) => Cell::Blob(b),
    }
}

fn pg_cell(row: &postgres::Row, index: usize) -> SqlResult<Cell<'_>> {
    let Some(column) = row.columns().get(index) else {
        return Err(SqlError::Column(index, "no such column".into()));
    };
    let cell = match *column.type_() {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Cell::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)?
            .map(|i| Cell::Int(i.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)?
            .map(|i| Cell::Int(i.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)?
            .map(|b| Cell::Int(b.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map(Cell::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(index)?
            .map(|r| Cell::Real(r.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<&str>>(index)?.map(Cell::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<&[u8]>>(index)?.map(Cell::Blob),
        ref other => {
            return Err(SqlError::Column(
                index,
                format!("PostgreSQL type {other} is not read by the store (cast it)"),
            ));
        }
    };
    Ok(cell.unwrap_or(Cell::Null))
}

/// A connection to either database.
pub struct Connection {
    backend: Backend,
    /// Savepoints (and the transaction around them) open now.
    depth: StdCell<u32>,
}

enum Backend {
    Lite(rusqlite::Connection),
    Pg(Box<RefCell<Pg>>),
}

struct Pg {
    client: postgres::Client,
    /// Connects again after the connection was lost (a restarted server, a network cut).
    reconnect: Box<dyn Fn() -> Result<postgres::Client, String> + Send>,
    /// Prepared statements by the store's text of them.
    statements: HashMap<String, postgres::Statement>,
    /// Rows changed by this connection since it opened (SQLite's `total_changes`).
    changes: u64,
    /// An error said the session is over, though the client may not know it yet (the
    /// server's "terminating connection" arrives before the socket closes).
    lost: bool,
}

impl Pg {
    fn statement(&mut self, sql: &str) -> SqlResult<postgres::Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self
            .client
            .prepare(&postgres_dialect(sql))
            .map_err(|e| SqlError::Prepare(sql.to_owned(), self.note(e)))?;
        self.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    /// Passes `e` on, remembering whether it ended the session.
    fn note(&mut self, e: postgres::Error) -> postgres::Error {
        let ends_session = e.is_closed()
            || e.as_db_error()
                .is_some_and(|db| db.severity() == "FATAL" || db.code().code().starts_with("57P"))
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        self.lost |= ends_session;
        e
    }
}

/// The store's SQL as PostgreSQL takes it: `?N` placeholders become `$N` (a bare `?` the
/// next number), and `LIKE` becomes `ILIKE` (see the module's docs). Quoted text is left
/// alone.
pub(crate) fn postgres_dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut chars = sql.char_indices().peekable();
    let mut quoted = false;
    while let Some((i, c)) = chars.next() {
        if quoted {
            out.push(c);
            quoted = c != '\'';
            continue;
        }
        match c {
            '\'' => {
                quoted = true;
                out.push(c);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(&(_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
                    digits.push(d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                    next += 1;
                } else {
                    out.push_str(&digits);
                }
            }
            'I' | 'i'
                if word_at(sql, i, "indexed")
                    && let Some(rest) = sql[i + 7..].strip_prefix(" BY ") =>
            {
                // The index's name follows; skip it too.
                let name_len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let skip = 7 + 4 + name_len;
                while chars.peek().is_some_and(|&(j, _)| j < i + skip) {
                    chars.next();
                }
            }
            'L' | 'l' if word_at(sql, i, "like") => {
                out.push_str("ILIKE");
                for _ in 0..3 {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether the word `word` (lower case) starts at byte `i` of `sql`, as a word of its own.
fn word_at(sql: &str, i: usize, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    sql.get(i..i + word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
        && !sql[..i].ends_with(is_word)
        && !sql[i + word.len()..].starts_with(is_word)
}

/// A statement ready to run with values.
pub struct Statement<'c> {
    inner: StatementInner<'c>,
}

enum StatementInner<'c> {
    Lite(rusqlite::CachedStatement<'c>),
    Pg(&'c RefCell<Pg>, postgres::Statement),
}

fn bind_lite(st: &mut rusqlite::CachedStatement<'_>, params: Params<'_>) -> SqlResult<()> {
    let wanted = st.parameter_count();
    if wanted != params.len() {
        return Err(SqlError::Arity {
            wanted,
            given: params.len(),
        });
    }
    for (i, p) in params.iter().enumerate() {
        st.raw_bind_parameter(i + 1, p.value())?;
    }
    Ok(())
}

fn pg_values<'p>(params: Params<'p>) -> Vec<Val<'p>> {
    params.iter().map(|p| p.value()).collect()
}

fn pg_refs<'v>(values: &'v [Val<'_>]) -> Vec<&'v (dyn PgToSql + Sync)> {
    values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect()
}

impl Statement<'_> {
    /// Runs it; the number of rows it changed.
    pub fn execute(&mut self, params: Params<'_>) -> SqlResult<usize> {
        match &mut self.inner {
            StatementInner::Lite(st) => {
                bind_lite(st, params)?;
                Ok(st.raw_execute()?)
            }
            StatementInner::Pg(pg, st) => {
                let values = pg_values(params);
                let mut pg = pg.borrow_mut();
                let changed = pg
                    .client
                    .execute(st, &pg_refs(&values))
                    .map_err(|e| pg.note(e))?;
                pg.changes += changed;
                Ok(changed as usize)
            }
        }
    }

    /// Every row it returns, each read by `f`.
    pub fn query_map<T>(
        &mut self,
        params: Params<'_>,
        mut f: impl FnMut(&Row<'_>) -> SqlResult<T>,
    ) -> SqlResult<std::vec::IntoIter<SqlResult<T>>> {
        let mut out = Vec::new();
        match &mut self.inner {
            StatementInner::Lite(st) => {
                bind_lite(st, params)?;
                let mut rows = st.raw_query();
                while let Some(row) = rows.next()? {
                    out.push(f(&Row::Lite(row)));
                }
            }
            StatementInner::Pg(pg, st) => {
                let values = pg_values(params);
                let mut pg = pg.borrow_mut();
                let rows = pg
                    .client
                    .query(st, &pg_refs(&values))
                    .map_err(|e| pg.note(e))?;
                out.extend(rows.iter().map(|row| f(&Row::Pg(row))));
            }
        }
        Ok(out.into_iter())
    }

    /// Its first row, read by `f`; [`SqlError::NoRow`] if it returns none.
    pub fn query_row<T>(
        &mut self,
        params: Params<'_>,
        f: impl FnOnce(&Row<'_>) -> SqlResult<T>,
    ) -> SqlResult<T> {
        match &mut self.inner {
            StatementInner::Lite(st) => {
                bind_lite(st, params)?;
                let mut rows = st.raw_query();
                match rows.next()? {
                    Some(row) => f(&Row::Lite(row)),
                    None => Err(SqlError::NoRow),
                }
            }
            StatementInner::Pg(pg, st) => {
                let values = pg_values(params);
                let mut pg = pg.borrow_mut();
                let row = pg
                    .client
                    .query_opt(st, &pg_refs(&values))
                    .map_err(|e| pg.note(e))?;
                match row {
                    Some(row) => f(&Row::Pg(&row)),
                    None => Err(SqlError::NoRow),
                }
            }
        }
    }
}

impl Connection {
    pub fn sqlite(conn: rusqlite::Connection) -> Self {
        Self {
            backend: Backend::Lite(conn),
            depth: StdCell::new(0),
        }
    }

    /// A PostgreSQL connection; `reconnect` makes a new one when it is lost.
    pub fn postgres(
        client: postgres::Client,
        reconnect: Box<dyn Fn() -> Result<postgres::Client, String> + Send>,
    ) -> Self {
        Self {
            backend: Backend::Pg(Box::new(RefCell::new(Pg {
                client,
                reconnect,
                statements: HashMap::new(),
                changes: 0,
                lost: false,
            }))),
            depth: StdCell::new(0),
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, its file's pages).
    pub fn lite(&self) -> Option<&rusqlite::Connection> {
        match &self.backend {
            Backend::Lite(c) => Some(c),
            Backend::Pg(_) => None,
        }
    }

    /// The SQLite connection, for tests that trace how SQLite runs the statements.
    #[cfg(test)]
    pub fn lite_mut(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.backend {
            Backend::Lite(c) => Some(c),
            Backend::Pg(_) => None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Pg(_))
    }

    /// A lost PostgreSQL connection is made again before the next change begins (never
    /// inside a transaction: what it held is gone, and its statements must fail with it).
    fn revive(&self) -> SqlResult<()> {
        if let Backend::Pg(pg) = &self.backend
            && self.depth.get() == 0
            && (pg.borrow().lost || pg.borrow().client.is_closed())
        {
            let mut pg = pg.borrow_mut();
            let client = (pg.reconnect)().map_err(SqlError::Lost)?;
            tracing::info!(
                event = "database_reconnected",
                "connected to the database again"
            );
            pg.client = client;
            pg.lost = false;
            pg.statements.clear();
        }
        Ok(())
    }

    /// `sql`, prepared once and kept for the next call with the same text.
    pub fn prepare_cached(&self, sql: &str) -> SqlResult<Statement<'_>> {
        self.revive()?;
        let inner = match &self.backend {
            Backend::Lite(c) => StatementInner::Lite(c.prepare_cached(sql)?),
            Backend::Pg(pg) => {
                let st = pg.borrow_mut().statement(sql)?;
                StatementInner::Pg(pg, st)
            }
        };
        Ok(Statement { inner })
    }

    /// Runs statements separated by `;` that take no values (schema, transaction control).
    pub fn execute_batch(&self, sql: &str) -> SqlResult<()> {
        self.revive()?;
        match &self.backend {
            Backend::Lite(c) => Ok(c.execute_batch(sql)?),
            Backend::Pg(pg) => {
                let mut pg = pg.borrow_mut();
                Ok(pg.client.batch_execute(sql).map_err(|e| pg.note(e))?)
            }
        }
    }

    /// Runs one transaction-control statement (`BEGIN`, `COMMIT`, `SAVEPOINT sp0`…). On
    /// SQLite it is kept compiled: every change runs two or three of them, and parsing them
    /// anew each time was a visible share of a message's cost.
    fn control(&self, sql: &str) -> SqlResult<()> {
        match &self.backend {
            Backend::Lite(c) => {
                c.prepare_cached(sql)?.execute([])?;
                Ok(())
            }
            Backend::Pg(_) => self.execute_batch(sql),
        }
    }

    /// Whether no transaction is open.
    pub fn is_autocommit(&self) -> bool {
        match &self.backend {
            Backend::Lite(c) => c.is_autocommit(),
            Backend::Pg(_) => self.depth.get() == 0,
        }
    }

    /// Rows changed through this connection since it opened.
    pub fn total_changes(&self) -> u64 {
        match &self.backend {
            Backend::Lite(c) => c.total_changes(),
            Backend::Pg(pg) => pg.borrow().changes,
        }
    }

    /// Opens a transaction that several changes share ([`Connection::commit`] or
    /// [`Connection::rollback`] ends it); savepoints opened meanwhile nest inside it.
    pub fn begin(&self) -> SqlResult<()> {
        self.control("BEGIN")?;
        self.depth.set(self.depth.get() + 1);
        Ok(())
    }

    pub fn commit(&self) -> SqlResult<()> {
        let result = self.control("COMMIT");
        if result.is_ok() || self.lite().is_some_and(|c| c.is_autocommit()) {
            self.depth.set(0);
        }
        result
    }

    pub fn rollback(&self) -> SqlResult<()> {
        let result = self.execute_batch("ROLLBACK");
        self.depth.set(0);
        result
    }

    /// One change that commits or rolls back as a whole: a transaction of its own, or a
    /// savepoint inside the transaction already open. Dropped without
    /// [`Savepoint::commit`], it is rolled back.
    pub fn savepoint(&self) -> SqlResult<Savepoint<'_>> {
        Ok(Savepoint {
            conn: self,
            mark: self.open_savepoint()?,
            done: false,
        })
    }

    /// Opens what [`Connection::savepoint`] opens, without holding the connection, for a
    /// change the store makes through several of its own calls; ended by
    /// [`Connection::release_savepoint`] or [`Connection::undo_savepoint`].
    pub fn open_savepoint(&self) -> SqlResult<Mark> {
        let depth = self.depth.get();
        let pg_outermost = self.is_postgres() && depth == 0;
        if pg_outermost {
            self.control("BEGIN")?;
        } else {
            self.control(&format!("SAVEPOINT sp{depth}"))?;
        }
        self.depth.set(depth + 1);
        Ok(Mark {
            level: depth,
            outermost: pg_outermost,
        })
    }

    /// Keeps the change since `mark`: part of what encloses it, or committed (outermost).
    /// One that cannot be kept (a full disk refuses SQLite's RELEASE) is undone: a
    /// transaction is never left open for later changes to be committed into unseen.
    pub fn release_savepoint(&self, mark: Mark) -> SqlResult<()> {
        let end = if mark.outermost {
            "COMMIT".to_owned()
        } else {
            format!("RELEASE sp{}", mark.level)
        };
        match self.control(&end) {
            Ok(()) => {
                self.depth.set(mark.level);
                Ok(())
            }
            Err(e) => {
                self.undo_savepoint(mark);
                Err(e)
            }
        }
    }

    /// Undoes the change since `mark`.
    pub fn undo_savepoint(&self, mark: Mark) {
        self.depth.set(mark.level);
        // SQLite may have rolled the whole transaction back itself (a full disk): then there
        // is nothing left to undo, and saying so would only repeat the first error.
        if self.lite().is_some_and(|c| c.is_autocommit()) {
            return;
        }
        let undo = if mark.outermost {
            "ROLLBACK".to_owned()
        } else {
            format!("ROLLBACK TO sp{0}; RELEASE sp{0}", mark.level)
        };
        if let Err(e) = self.execute_batch(&undo) {
            tracing::error!(event = "store_error", error = %e, "cannot roll back a failed change");
        }
    }
}

/// An open savepoint (see [`Connection::open_savepoint`]).
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    level: u32,
    /// A PostgreSQL transaction rather than a savepoint.
    outermost: bool,
}

/// See [`Connection::savepoint`].
pub struct Savepoint<'c> {
    conn: &'c Connection,
    mark: Mark,
    done: bool,
}

impl Savepoint<'_> {
    /// Makes the change part of what encloses it (or commits it, outermost). If that fails
    /// (a full disk refuses SQLite's RELEASE), the change is rolled back.
    pub fn commit(mut self) -> SqlResult<()> {
        self.done = true;
        self.conn.release_savepoint(self.mark)
    }
}

impl std::ops::Deref for Savepoint<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.conn.undo_savepoint(self.mark);
        }
    }
}

/// Runs one statement through the connection's statement cache: the daemon runs the same
/// few statements for every message, and parsing them again each time cost more than
/// running them.
pub fn exec(conn: &Connection, sql: &str, params: Params<'_>) -> SqlResult<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// One row of a cached statement (see [`exec`]); [`SqlError::NoRow`] if there is none.
pub fn row<T>(
    conn: &Connection,
    sql: &str,
    params: Params<'_>,
    f: impl FnOnce(&Row<'_>) -> SqlResult<T>,
) -> SqlResult<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

#[cfg(test)]
mod tests {
    use super::postgres_dialect;

    #[test]
    fn placeholders_and_like_become_postgres_but_quoted_text_does_not() {
        assert_eq!(
            postgres_dialect("SELECT a FROM t WHERE b = ?1 AND c LIKE ?2 || '%' AND d = ?1"),
            "SELECT a FROM t WHERE b = $1 AND c ILIKE $2 || '%' AND d = $1"
        );
        assert_eq!(
            postgres_dialect("UPDATE t SET a = ? , b = ? WHERE note = 'why? like this'"),
            "UPDATE t SET a = $1 , b = $2 WHERE note = 'why? like this'"
        );
        // Words that only contain "like" are left alone.
        assert_eq!(
            postgres_dialect("SELECT likely, unlike_x FROM t"),
            "SELECT likely, unlike_x FROM t"
        );
        assert_eq!(postgres_dialect("?12"), "$12");
        assert_eq!(
            postgres_dialect("SELECT a FROM t INDEXED BY t_a, u WHERE x = ?1"),
            "SELECT a FROM t , u WHERE x = $1"
        );
    }
}
