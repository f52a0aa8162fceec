//! Platform administration: every organization, its activity and limits.
//! Only platform admins get here; each change is audited in the chain of
//! the organization it changes.
use crate::model::audit::AuditAction;
use crate::model::{OrgId, UserId};
use serde_json::json;
use sqlx::{PgPool, Row as _};

use super::audit::platform::{self, PlatformEvent};
use super::audit::{self, AuditEvent};
use super::db;
use super::sessions::SessionUser;
use super::{Actor, Error, OrgTx, RequestMeta, Result};
use crate::model::orgs::Plan;
use crate::model::platform::{page_offset, LimitOverrides, OrgAdminPage, OrgAdminRow, PAGE_SIZE};

fn require_platform_admin(user: &SessionUser) -> Result<()> {
    if user.is_platform_admin {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Only platform administrators can do this.".into(),
        ))
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    org: OrgAdminRow,
    total: i64,
}

/// A platform admin at work: only constructed for one.
pub struct PlatformAdmin<'a> {
    pool: &'a PgPool,
    user: &'a SessionUser,
    meta: RequestMeta,
}

/// Changes that also go to the platform log, which outlives the
/// organization (its own chain goes when it is deleted).
const PLATFORM_LOGGED: [AuditAction; 2] = [
    AuditAction::OrganizationDeactivated,
    AuditAction::OrganizationActivated,
];

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

impl<'a> PlatformAdmin<'a> {
    pub fn new(pool: &'a PgPool, user: &'a SessionUser, meta: RequestMeta) -> Result<Self> {
        require_platform_admin(user)?;
        Ok(Self { pool, user, meta })
    }

    /// For platform-level reads elsewhere (the security events).
    pub fn pool(&self) -> &'a PgPool {
        self.pool
    }

    pub fn user_id(&self) -> UserId {
        self.user.user_id
    }

    pub async fn list(&self, search: &str, page: u32) -> Result<OrgAdminPage> {
        let offset = page_offset(page)?;
        let page = page.max(1);
        // The function checks that the session's user is an admin.
        let mut tx = db::begin_as_user(self.pool, self.user.user_id).await?;
        let rows: Vec<Row> = sqlx::query_as("select * from platform_organizations($1, $2, $3, $4)")
            .bind(self.user.proof()?.as_bytes())
            .bind(search.trim())
            .bind(PAGE_SIZE as i32)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let total = rows.first().map_or(0, |r| r.total);
        Ok(OrgAdminPage {
            rows: rows.into_iter().map(|r| r.org).collect(),
            total,
            page,
            page_size: PAGE_SIZE,
        })
    }

    /// Runs `statement`, a platform function ($1 = the session's proof,
    /// $2 = the organization, answering whether it exists), and audits the
    /// change in that organization's chain.
    async fn change(
        &self,
        org_id: OrgId,
        action: AuditAction,
        statement: &str,
        bind: impl for<'q> FnOnce(Query<'q>) -> Query<'q>,
        after: serde_json::Value,
    ) -> Result<()> {
        let mut tx = OrgTx::begin(
            self.pool,
            org_id,
            Actor::User(self.user.user_id),
            self.meta.clone(),
        )
        .await?;
        let proof = self.user.proof()?.as_bytes();
        let changed: bool = bind(sqlx::query(statement).bind(proof).bind(org_id))
            .fetch_one(tx.conn())
            .await?
            .try_get(0)?;
        if !changed {
            return Err(Error::NotFound);
        }
        audit::record(
            &mut tx,
            AuditEvent::new(action, "organization", org_id).after(after.clone()),
        )
        .await?;
        if PLATFORM_LOGGED.contains(&action) {
            let slug: String = sqlx::query_scalar("select slug from organizations where id = $1")
                .bind(org_id)
                .fetch_one(tx.conn())
                .await?;
            let event = PlatformEvent::new(action)
                .organization(org_id, &slug)
                .details(after);
            let actor = tx.actor();
            platform::record(tx.conn(), actor, &self.meta, event).await?;
        }
        tx.commit().await
    }

    pub async fn set_active(&self, org_id: OrgId, active: bool) -> Result<()> {
        let action = if active {
            AuditAction::OrganizationActivated
        } else {
            AuditAction::OrganizationDeactivated
        };
        let statement = "select platform_set_organization_active($1, $2, $3)";
        self.change(
            org_id,
            action,
            statement,
            |q| q.bind(active),
            json!({"active": active}),
        )
        .await
    }

    pub async fn set_plan(&self, org_id: OrgId, plan: Plan) -> Result<()> {
        let statement = "select platform_set_organization_plan($1, $2, $3)";
        self.change(
            org_id,
            AuditAction::OrganizationPlanChanged,
            statement,
            |q| q.bind(plan),
            json!({"plan": plan}),
        )
        .await
    }

    pub async fn set_limits(&self, org_id: OrgId, limits: LimitOverrides) -> Result<()> {
        for (field, value) in [
            ("max_members", limits.max_members),
            ("max_codes", limits.max_codes),
            ("max_webhooks", limits.max_webhooks),
            ("max_api_keys", limits.max_api_keys),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(Error::Validation {
                    field: Some(field.into()),
                    message: "Use a number of 0 or more, or leave it empty for the plan's limit."
                        .into(),
                });
            }
        }
        let statement = "select platform_set_organization_limits($1, $2, $3, $4, $5, $6)";
        self.change(
            org_id,
            AuditAction::OrganizationLimitsChanged,
            statement,
            |q| {
                q.bind(limits.max_members)
                    .bind(limits.max_codes)
                    .bind(limits.max_webhooks)
                    .bind(limits.max_api_keys)
            },
            json!(limits),
        )
        .await
    }
}
