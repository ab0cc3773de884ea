//! IVR menus: the row, its filters, insert and update (listing, reading, locking and deleting
//! are [`crate::crud`]'s; deleting a menu leaves the numbers pointing at it without a menu). No
//! query filters by organization: the policies of `policies/310_ivr_menus.sql` do, and
//! `organization_id` defaults to the context on insert.

use palisade_domain::{IvrMenuName, IvrMenuTree};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::list::like_literal;

/// The unique constraint that keeps menu names unique within an organization.
pub const NAME_KEY: &str = "ivr_menus_name_key";

/// The CHECK on `tree` (sql/V0022): an object of at most 65536 bytes as stored
/// (`pg_column_size`).
pub const TREE_CHECK: &str = "ivr_menus_tree_check";

crate::table! {
    /// A menu as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct IvrMenu in "palisade.ivr_menus" {
        /// Its id.
        id: Uuid,
        /// Name, unique within the organization.
        name: String,
        /// The menu tree, as given: a node is `{"prompt", "options"}`, `options` maps 1 to 12
        /// keypad keys (`0`-`9`, `*`, `#`) to an `action`: `say` (`text`), `transfer` (`to`,
        /// E.164), `submenu` (`menu`, a node), `voicemail` (`greeting`, optional) or `hangup`.
        #[schema(value_type = Object)]
        tree: Value,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

crate::insert_type! {
    /// A menu to create.
    pub struct NewIvrMenu into IvrMenu {
        /// Name.
        name: IvrMenuName,
        /// Tree.
        tree: IvrMenuTree,
    }
}

crate::patch_type! {
    /// A partial update: `None` leaves a field alone.
    pub struct IvrMenuPatch for IvrMenu {
        /// New name.
        name: set IvrMenuName,
        /// New tree.
        tree: set IvrMenuTree,
    }
}

crate::filter_type! {
    /// List filters.
    pub struct IvrMenuFilter for IvrMenu {
        /// Case-insensitive substring of the name.
        name: IvrMenuName => "name ILIKE '%' || $ || '%' ESCAPE '\\'"
            with |n| like_literal(n.as_str()),
    }
}
