//! The store on PostgreSQL: connecting, and bringing the schema to this smsqd's version.
//! Several smsqd hosts may start at once against one database; the first to take the
//! migration lock creates or upgrades the schema, the others wait for it and find it done.

use super::db::*;

/// The PostgreSQL schema's versions, in order; the last is this smsqd's.
const MIGRATIONS: &[&str] = &[include_str!("schema_postgres.sql")];

/// The version this smsqd writes on PostgreSQL.
pub const POSTGRES_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Any number that the hosts of one database agree on: the advisory lock held while the
/// schema is created or upgraded ("smsq" in ASCII).
const MIGRATION_LOCK: i64 = 0x736d_7371;

/// Whether `database` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://")
        || database.starts_with("postgresql://")
        || database.starts_with("host=")
}

/// Takes libpq's `sslrootcert=FILE` out of `url` (the client library does not know it):
/// the address without it, and the file.
fn split_root_cert(url: &str) -> (String, Option<String>) {
    let mut file = None;
    if let Some((base, query)) = url.split_once('?') {
        let mut rest = Vec::new();
        for pair in query.split('&') {
            match pair.strip_prefix("sslrootcert=") {
                Some(f) => file = Some(f.to_owned()),
                None => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        return (url, file);
    }
    let mut pairs = Vec::new();
    for pair in url.split_whitespace() {
        match pair.strip_prefix("sslrootcert=") {
            Some(f) => file = Some(f.to_owned()),
            None => pairs.push(pair),
        }
    }
    if file.is_some() {
        (pairs.join(" "), file)
    } else {
        (url.to_owned(), None)
    }
}

/// TLS to the server (used when the server offers it, or `sslmode=require` asks for it),
/// always verifying its certificate: against the system's certificate authorities and the
/// `sslrootcert` file, if one is given (a shop's own CA).
fn tls(root_cert: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    // Once per process; a second call finds it installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: the CA file may be all that is needed.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(file) = root_cert {
        let bad =
            |e: &dyn std::fmt::Display| StoreError::Migration(format!("sslrootcert={file}: {e}"));
        let certs = CertificateDer::pem_file_iter(file)
            .map_err(|e| bad(&e))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(&e))?;
        for cert in certs {
            roots.add(cert).map_err(|e| bad(&e))?;
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Connects to the PostgreSQL database `url` (a `postgres://` URL or `key=value` pairs).
/// The password, if any, never appears in an error.
pub(super) fn connect(url: &str) -> Result<postgres::Client> {
    let (url, root_cert) = split_root_cert(url);
    let config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| StoreError::Database(SqlError::Postgres(e)))?;
    let mut client = config
        .connect(tls(root_cert.as_deref())?)
        .map_err(|e| StoreError::Database(SqlError::Postgres(e)))?;
    // Times and text as the store writes them, whatever the server's defaults are.
    client
        .batch_execute("SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'")
        .map_err(|e| StoreError::Database(SqlError::Postgres(e)))?;
    Ok(client)
}

/// Creates or upgrades the schema in one transaction, under the migration lock.
pub(super) fn migrate(client: &mut postgres::Client, now: i64) -> Result<()> {
    let pg = |e: postgres::Error| StoreError::Database(SqlError::Postgres(e));
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg)?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .map_err(pg)?
        .get(0);
    let version: i64 = if exists {
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .map_err(pg)?
            .get(0)
    } else {
        0
    };
    if version > POSTGRES_SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: POSTGRES_SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(pg)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
            &[&(i as i64 + 1), &now],
        )
        .map_err(pg)?;
    }
    tx.commit().map_err(pg)
}

impl Db {
    /// Opens the store on the PostgreSQL database `url`, creating or upgrading its schema.
    pub fn open_postgres(url: &str) -> Result<Self> {
        let mut client = connect(url)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        migrate(&mut client, now)?;
        let url = url.to_owned();
        let reconnect = Box::new(move || connect(&url).map_err(|e| e.to_string()));
        Self::with_connection(Connection::postgres(client, reconnect))
    }
}

/// Where the store lives: a SQLite file (the default, one host) or a PostgreSQL database
/// (several hosts). Shown, the password of a PostgreSQL address is hidden.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    File(std::path::PathBuf),
    Postgres(String),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL, or libpq's `host=... dbname=...` pairs, is
    /// PostgreSQL; anything else a file path.
    pub fn parse(text: &str) -> Self {
        if is_postgres_url(text) {
            Self::Postgres(text.to_owned())
        } else {
            Self::File(text.into())
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&hide_password(url)),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// `url` with its password replaced by `***`: in the `user:password@` part of a URL, in a
/// `password=` query parameter, or in a `password=` pair.
pub fn hide_password(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let scheme_len = url.len() - rest.len();
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            out = format!(
                "{}{}:***{}",
                &url[..scheme_len],
                &rest[..colon],
                &rest[at..]
            );
        }
    }
    // password=... as a pair or a query parameter, up to the next space or '&'.
    let mut hidden = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("password=") {
        let value_start = i + "password=".len();
        hidden.push_str(&rest[..value_start]);
        hidden.push_str("***");
        let value = &rest[value_start..];
        let end = if let Some(quoted) = value.strip_prefix('\'') {
            quoted.find('\'').map_or(value.len(), |j| j + 2)
        } else {
            value.find([' ', '&']).unwrap_or(value.len())
        };
        rest = &value[end..];
    }
    hidden.push_str(rest);
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_certificate_is_taken_out_of_the_address() {
        assert_eq!(
            split_root_cert("postgres://smsq@db/smsq?sslmode=require&sslrootcert=/etc/smsq/ca.pem"),
            (
                "postgres://smsq@db/smsq?sslmode=require".to_string(),
                Some("/etc/smsq/ca.pem".to_string())
            )
        );
        assert_eq!(
            split_root_cert("host=db sslrootcert=/ca.pem dbname=smsq"),
            (
                "host=db dbname=smsq".to_string(),
                Some("/ca.pem".to_string())
            )
        );
        assert_eq!(
            split_root_cert("postgres://db/smsq"),
            ("postgres://db/smsq".to_string(), None)
        );
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            hide_password("postgres://smsq:s3cr%40t@db.shop.lan:5432/smsq?sslmode=require"),
            "postgres://smsq:***@db.shop.lan:5432/smsq?sslmode=require"
        );
        assert_eq!(
            hide_password("postgresql://smsq@db/smsq?password=hunter2&sslmode=require"),
            "postgresql://smsq@db/smsq?password=***&sslmode=require"
        );
        assert_eq!(
            hide_password("host=db user=smsq password='a b c' dbname=smsq"),
            "host=db user=smsq password=*** dbname=smsq"
        );
        assert_eq!(hide_password("postgres://db/smsq"), "postgres://db/smsq");
        assert_eq!(
            format!("{:?}", Location::parse("postgres://u:pw@h/d")),
            "postgres://u:***@h/d"
        );
        assert_eq!(
            Location::parse("/var/lib/smsq/smsq.db"),
            Location::File("/var/lib/smsq/smsq.db".into())
        );
    }
}
