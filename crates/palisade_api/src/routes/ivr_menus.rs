//! `/v1/ivr/menus`: IVR menus (a name unique within the organization, and a menu tree parsed by
//! [`IvrMenuTree`], stored and returned as given). Another organization's menu answers 404
//! exactly like a missing one. Every role reads; only owners and admins create, change or
//! delete menus, as for phone numbers (a menu decides where calls are transferred): 403 here,
//! and the policies of `policies/310_ivr_menus.sql` refuse it again. The handlers are
//! [`crate::resource`]'s.

use palisade_db::ivr_menus::{self as db, IvrMenu, IvrMenuFilter, IvrMenuPatch, NewIvrMenu};
use palisade_domain::{IvrMenuName, IvrMenuTree};

use crate::error::ErrorCode;
use crate::resource::{self, Violation};

/// The IVR menu family.
pub(crate) struct IvrMenus;

impl crate::changes::Synced for IvrMenus {
    const CHANGES: &'static str = "/v1/ivr/menus/changes";
}

resource::family! {
    IvrMenus: IvrMenu => IvrMenu, "/v1/ivr/menus", "ivr", "an IVR menu", "IVR menus";
    const ADMIN_WRITES: bool = true;
    const VIOLATIONS: &'static [Violation] = &[
        Violation::on_write(db::NAME_KEY, || {
            resource::taken(
                ErrorCode::NameTaken,
                "name",
                "another IVR menu of this organization has this name",
            )
        }),
        // A backstop: a tree within IvrMenuTree's bounds (16 KiB of text; objects and strings,
        // at most about 2.5 times that as jsonb) stays under the column's 64 KiB.
        Violation::on_write(db::TREE_CHECK, || resource::too_large_as_stored("tree")),
    ];
}

/// Declares this family's routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    crate::changes::changes_route::<IvrMenus>(e);
    resource::list_route::<IvrMenus>(e)
        .describe("Newest first; `name` is a case-insensitive substring");
    resource::create_route::<IvrMenus>(e);
    resource::get_route::<IvrMenus>(e);
    resource::update_route::<IvrMenus>(e)
        .describe("Owners and admins; `tree` replaces the whole tree");
    resource::delete_route::<IvrMenus>(e)
        .describe("Owners and admins; numbers that pointed at it keep working without a menu");
}

crate::list::filters! {
    /// List query string.
    IvrMenus: ListQuery => IvrMenuFilter {
        /// Case-insensitive substring of the name.
        name: Text<IvrMenuName>,
    }
}

resource::created! {
    /// Create body.
    IvrMenus: CreateBody as IvrMenuCreate => NewIvrMenu {
        /// Unique within the organization (409 `name_taken`).
        name: required Text<IvrMenuName>,
        /// The menu tree (see `IvrMenu`); bounded in depth, nodes and size.
        tree: required Object<IvrMenuTree>,
    }
}

resource::patch! {
    /// Patch body: absent fields stay; `tree` replaces the whole tree.
    IvrMenus: PatchBody as IvrMenuPatch => IvrMenuPatch {
        name: set Text<IvrMenuName>,
        tree: set Object<IvrMenuTree>,
    }
}
