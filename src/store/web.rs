//! The web page's accounts: users with a role and an Argon2id hash, sessions (only a hash
//! of each cookie's token is kept, so a copy of the database opens no session), and the
//! one-time setup token that lets the first owner in.

use super::sql::{OptionalExtension, params};

use super::db::*;

/// A user of the web page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUser {
    pub name: String,
    pub password_hash: String,
    /// `owner`, `staff` or `viewer`.
    pub role: String,
    pub created_at: i64,
}

/// A live session: whose, and the token its forms must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user: WebUser,
    pub csrf: String,
    pub expires_at: i64,
}

fn user_row(r: &super::sql::Row<'_>) -> SqlResult<WebUser> {
    Ok(WebUser {
        name: r.get(0)?,
        password_hash: r.get(1)?,
        role: r.get(2)?,
        created_at: r.get(3)?,
    })
}

impl Db {
    pub fn web_users(&self) -> Result<Vec<WebUser>> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, password_hash, role, created_at FROM web_users ORDER BY created_at, name",
        )?;
        Ok(st
            .query_map(params![], user_row)?
            .collect::<SqlResult<_>>()?)
    }

    pub fn web_user(&self, name: &str) -> Result<Option<WebUser>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT name, password_hash, role, created_at FROM web_users WHERE name = ?1",
            )?
            .query_row(params![name], user_row)
            .optional()?)
    }

    /// Adds a user; `false` when the name is taken.
    pub fn add_web_user(&mut self, u: &WebUser) -> Result<bool> {
        Ok(exec(
            &self.conn,
            "INSERT INTO web_users (name, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![u.name, u.password_hash, u.role, u.created_at],
        )? > 0)
    }

    /// Removes a user and their sessions; `false` when there was none, or it is the last
    /// owner (the page would have no one to manage it).
    pub fn remove_web_user(&mut self, name: &str) -> Result<bool> {
        let tx = self.conn.savepoint()?;
        let owners: i64 = row(
            &tx,
            "SELECT COUNT(*) FROM web_users WHERE role = 'owner' AND name != ?1",
            params![name],
            |r| r.get(0),
        )?;
        let is_owner: bool = row(
            &tx,
            "SELECT EXISTS (SELECT 1 FROM web_users WHERE name = ?1 AND role = 'owner')",
            params![name],
            |r| r.get(0),
        )?;
        if is_owner && owners == 0 {
            return Ok(false);
        }
        exec(
            &tx,
            "DELETE FROM web_sessions WHERE \"user\" = ?1",
            params![name],
        )?;
        let removed = exec(&tx, "DELETE FROM web_users WHERE name = ?1", params![name])? > 0;
        tx.commit()?;
        Ok(removed)
    }

    /// Starts a session; expired ones are swept on the way.
    pub fn open_web_session(
        &mut self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let tx = self.conn.savepoint()?;
        exec(
            &tx,
            "DELETE FROM web_sessions WHERE expires_at <= ?1",
            params![now],
        )?;
        exec(
            &tx,
            "INSERT INTO web_sessions (token_hash, \"user\", csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, user, csrf, now, expires_at],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The session whose token hashes to `token_hash`, if it is live at `now`.
    pub fn web_session(&self, token_hash: &str, now: i64) -> Result<Option<WebSession>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.name, u.password_hash, u.role, u.created_at, s.csrf, s.expires_at
                 FROM web_sessions s JOIN web_users u ON u.name = s.user
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2",
            )?
            .query_row(params![token_hash, now], |r| {
                Ok(WebSession {
                    user: user_row(r)?,
                    csrf: r.get(4)?,
                    expires_at: r.get(5)?,
                })
            })
            .optional()?)
    }

    pub fn close_web_session(&mut self, token_hash: &str) -> Result<()> {
        exec(
            &self.conn,
            "DELETE FROM web_sessions WHERE token_hash = ?1",
            params![token_hash],
        )?;
        Ok(())
    }

    /// Replaces the setup token (only one is ever valid).
    pub fn set_web_setup(&mut self, token_hash: &str, expires_at: i64) -> Result<()> {
        let tx = self.conn.savepoint()?;
        exec(&tx, "DELETE FROM web_setup", params![])?;
        exec(
            &tx,
            "INSERT INTO web_setup (token_hash, expires_at) VALUES (?1, ?2)",
            params![token_hash, expires_at],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Whether `token_hash` is the live setup token.
    pub fn web_setup_valid(&self, token_hash: &str, now: i64) -> Result<bool> {
        Ok(row(
            &self.conn,
            "SELECT EXISTS (SELECT 1 FROM web_setup WHERE token_hash = ?1 AND expires_at > ?2)",
            params![token_hash, now],
            |r| r.get(0),
        )?)
    }

    /// Creates an owner with the setup token, which is used up; `false` when the token is
    /// not (or no longer) valid, or the name is taken (the token then stays valid).
    pub fn complete_web_setup(
        &mut self,
        token_hash: &str,
        owner: &WebUser,
        now: i64,
    ) -> Result<bool> {
        let tx = self.conn.savepoint()?;
        let valid = exec(
            &tx,
            "DELETE FROM web_setup WHERE token_hash = ?1 AND expires_at > ?2",
            params![token_hash, now],
        )? > 0;
        if !valid {
            return Ok(false);
        }
        let added = exec(
            &tx,
            "INSERT INTO web_users (name, password_hash, role, created_at) VALUES (?1, ?2, 'owner', ?3) ON CONFLICT DO NOTHING",
            params![owner.name, owner.password_hash, now],
        )? > 0;
        if !added {
            return Ok(false);
        }
        super::events::event(
            &tx,
            now,
            "web_setup",
            None,
            None,
            &format!("owner {} created with a setup link", owner.name),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Numbers whose latest general consent entry is an opt-out, newest first.
    pub fn opted_out(&self, limit: i64) -> Result<Vec<super::ConsentEntry>> {
        super::care::consent_rows(
            &self.conn,
            "c WHERE c.topic = '' AND c.action = 'revoke'
               AND c.id = (SELECT MAX(d.id) FROM consent_events d
                           WHERE d.number = c.number AND d.topic = '')
             ORDER BY c.at DESC, c.id DESC LIMIT ?1",
            params![limit],
        )
    }

    /// Each number's general consent now (its latest entry for every topic), `None` with no
    /// entry: for lists of contacts.
    pub fn consent_now(&self, numbers: &[String]) -> Result<Vec<Option<super::ConsentState>>> {
        let mut out = Vec::with_capacity(numbers.len());
        for n in numbers {
            let latest = super::care::consent_rows(
                &self.conn,
                "WHERE number = ?1 AND topic = '' ORDER BY id DESC LIMIT 1",
                params![n],
            )?;
            out.push(latest.first().map(|e| e.state));
        }
        Ok(out)
    }
}
