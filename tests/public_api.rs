//! The public API of the crates third-party tools `cargo add`
//! (onelive-events, onelive-webhook) does not change by accident.
//!
//! Every `pub` declaration of their sources (items, fields, variants,
//! methods, re-exports, with the attributes that change what a user may do:
//! `derive`, `non_exhaustive`, `cfg`, `serde`) is written one per line and
//! compared with `tests/public-api/<crate>.txt`. A change of the API shows as
//! a diff; when it is intended (and the version bumped accordingly), rewrite
//! the snapshot with `UPDATE_PUBLIC_API=1 cargo test -p onelive-workspace-tests
//! --test public_api` and commit it with the change.
//!
//! This stands in for `cargo semver-checks` (a long install on a small
//! machine, and it needs a published baseline): it reads the source with syn
//! instead of rustdoc's JSON, so items made public by macros are seen as their
//! macro invocation, and a change in a private module's `pub` item shows too.

use std::fs;
use std::path::{Path, PathBuf};

use quote::ToTokens;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn tokens(t: &impl ToTokens) -> String {
    t.to_token_stream().to_string()
}

/// The attributes that are part of the API.
fn api_attrs(attrs: &[syn::Attribute]) -> String {
    let mut out = String::new();
    for a in attrs {
        let p = a.path();
        if ["derive", "non_exhaustive", "cfg", "serde", "must_use", "repr"]
            .iter()
            .any(|n| p.is_ident(n))
        {
            out.push_str(&tokens(a));
            out.push(' ');
        }
    }
    out
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") && tokens(a).contains("test"))
}

fn public(v: &syn::Visibility) -> bool {
    matches!(v, syn::Visibility::Public(_))
}

struct Walker {
    lines: Vec<String>,
}

impl Walker {
    fn file(&mut self, path: &Path, module: &str, dir: &Path) {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.items(&file.items, module, dir);
    }

    fn items(&mut self, items: &[syn::Item], module: &str, dir: &Path) {
        for item in items {
            self.item(item, module, dir);
        }
    }

    fn item(&mut self, item: &syn::Item, m: &str, dir: &Path) {
        use syn::Item;
        let mut push = |s: String| self.lines.push(s);
        match item {
            Item::Fn(f) if public(&f.vis) && !is_test(&f.attrs) => {
                push(format!("{}{m}:: {}", api_attrs(&f.attrs), tokens(&f.sig)))
            }
            Item::Struct(s) if public(&s.vis) && !is_test(&s.attrs) => {
                push(format!(
                    "{}struct {m}::{}{}",
                    api_attrs(&s.attrs),
                    s.ident,
                    tokens(&s.generics)
                ));
                for (i, f) in s.fields.iter().enumerate() {
                    if public(&f.vis) {
                        let name = f.ident.as_ref().map_or(i.to_string(), ToString::to_string);
                        push(format!(
                            "  {}field {}.{name}: {}",
                            api_attrs(&f.attrs),
                            s.ident,
                            tokens(&f.ty)
                        ));
                    }
                }
            }
            Item::Enum(e) if public(&e.vis) && !is_test(&e.attrs) => {
                push(format!(
                    "{}enum {m}::{}{}",
                    api_attrs(&e.attrs),
                    e.ident,
                    tokens(&e.generics)
                ));
                for v in &e.variants {
                    let mut fields = v.fields.clone();
                    for f in fields.iter_mut() {
                        f.attrs.retain(|a| !a.path().is_ident("doc"));
                    }
                    push(format!(
                        "  {}variant {}::{} {}",
                        api_attrs(&v.attrs),
                        e.ident,
                        v.ident,
                        tokens(&fields)
                    ));
                }
            }
            Item::Trait(t) if public(&t.vis) => {
                let mut t = t.clone();
                for i in &mut t.items {
                    if let syn::TraitItem::Fn(f) = i {
                        f.default = None;
                        f.attrs.retain(|a| !a.path().is_ident("doc"));
                    }
                }
                t.attrs.retain(|a| !a.path().is_ident("doc"));
                push(format!("trait {m}::{}", tokens(&t)));
            }
            Item::Const(c) if public(&c.vis) => {
                push(format!("{}const {m}::{}: {}", api_attrs(&c.attrs), c.ident, tokens(&c.ty)))
            }
            Item::Static(s) if public(&s.vis) => {
                push(format!("static {m}::{}: {}", s.ident, tokens(&s.ty)))
            }
            Item::Type(t) if public(&t.vis) => {
                push(format!("{}type {m}::{} = {}", api_attrs(&t.attrs), t.ident, tokens(&t.ty)))
            }
            Item::Use(u) if public(&u.vis) => {
                push(format!("{}use {m}::{}", api_attrs(&u.attrs), tokens(&u.tree)))
            }
            Item::Macro(mac) => {
                // A macro that declares API (`event_types! { ... }`): its input.
                let exported = mac.attrs.iter().any(|a| a.path().is_ident("macro_export"));
                if exported || mac.ident.is_none() {
                    push(format!("macro {m}: {}", tokens(&mac.mac)));
                }
            }
            Item::Impl(i) if !is_test(&i.attrs) => {
                let header = format!(
                    "{}impl{} {}{}",
                    api_attrs(&i.attrs),
                    tokens(&i.generics),
                    i.trait_
                        .as_ref()
                        .map(|(_, p, _)| format!("{} for ", tokens(p)))
                        .unwrap_or_default(),
                    tokens(&i.self_ty)
                );
                let methods: Vec<String> = i
                    .items
                    .iter()
                    .filter_map(|it| match it {
                        syn::ImplItem::Fn(f) if public(&f.vis) || i.trait_.is_some() => {
                            Some(format!("  {}{}", api_attrs(&f.attrs), tokens(&f.sig)))
                        }
                        syn::ImplItem::Const(c) if public(&c.vis) => {
                            Some(format!("  const {}: {}", c.ident, tokens(&c.ty)))
                        }
                        _ => None,
                    })
                    .collect();
                if i.trait_.is_some() || !methods.is_empty() {
                    push(header);
                    if i.trait_.is_none() {
                        self.lines.extend(methods);
                    }
                }
            }
            Item::Mod(md) if !is_test(&md.attrs) => {
                let name = md.ident.to_string();
                let child = format!("{m}::{name}");
                push(format!(
                    "{}{}mod {child}",
                    api_attrs(&md.attrs),
                    if public(&md.vis) { "pub " } else { "" }
                ));
                match &md.content {
                    Some((_, items)) => self.items(items, &child, &dir.join(&name)),
                    None => {
                        let flat = dir.join(format!("{name}.rs"));
                        let nested = dir.join(&name).join("mod.rs");
                        let path = if flat.is_file() { flat } else { nested };
                        self.file(&path, &child, &dir.join(&name));
                    }
                }
            }
            _ => {}
        }
    }
}

fn api_of(krate: &str) -> String {
    let src = root().join("crates").join(krate).join("src");
    let mut w = Walker { lines: Vec::new() };
    w.file(&src.join("lib.rs"), &krate.replace('-', "_"), &src);
    w.lines.join("\n") + "\n"
}

fn check(krate: &str) {
    let now = api_of(krate);
    let snapshot = root().join("tests/public-api").join(format!("{krate}.txt"));
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        fs::write(&snapshot, &now).unwrap();
        return;
    }
    let before = fs::read_to_string(&snapshot).unwrap_or_default();
    if before != now {
        let old: Vec<&str> = before.lines().collect();
        let new: Vec<&str> = now.lines().collect();
        let gone: Vec<&&str> = old.iter().filter(|l| !new.contains(l)).collect();
        let added: Vec<&&str> = new.iter().filter(|l| !old.contains(l)).collect();
        panic!(
            "the public API of {krate} changed (tests/public-api/{krate}.txt).\n\
             removed or changed:\n{}\nadded or changed:\n{}\n\
             If intended: UPDATE_PUBLIC_API=1 cargo test -p onelive-workspace-tests --test public_api",
            gone.iter().map(|l| format!("- {l}")).collect::<Vec<_>>().join("\n"),
            added.iter().map(|l| format!("+ {l}")).collect::<Vec<_>>().join("\n"),
        );
    }
}

#[test]
fn onelive_events_public_api_is_unchanged() {
    check("onelive-events");
}

#[test]
fn onelive_webhook_public_api_is_unchanged() {
    check("onelive-webhook");
}

#[test]
fn the_snapshot_sees_what_matters() {
    let api = api_of("onelive-events");
    for expected in [
        "# [non_exhaustive] struct onelive_events::data::VideoFileFinishData",
        "field VideoFileFinishData.filesize: u64",
        "fn new (platform : impl Into < String >",
        "variant EventData::VideoFileFinish (VideoFileFinishData)",
        "impl Serialize for EventData",
        "  fn file_path (& self) -> Option < & str >",
    ] {
        assert!(api.contains(expected), "{expected:?} not in the API listing:\n{api}");
    }
}

/// The published crates' READMEs are shown on crates.io and docs.rs, where
/// a relative link leads nowhere.
#[test]
fn published_readmes_have_no_relative_links() {
    for krate in ["onelive-events", "onelive-webhook"] {
        let text = fs::read_to_string(root().join("crates").join(krate).join("README.md")).unwrap();
        let relative: Vec<&str> = text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .filter(|target| !target.starts_with("https://") && !target.starts_with('#'))
            .collect();
        assert!(relative.is_empty(), "{krate}/README.md links {relative:?}");
    }
}
