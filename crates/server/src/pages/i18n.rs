//! The pages' languages: French and English, chosen from a cookie or `Accept-Language`;
//! one message catalog per language, and how amounts and dates are written in each.

use comptoir_core::money::{Currency, Money};
use std::collections::HashMap;
use std::sync::LazyLock;

/// A language of the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// `en` or `fr`, also the cookie's value and the page's `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The first of French or English in an `Accept-Language` header, by weight; English
    /// when it names neither.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::parse(primary) else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The text of `key` in this language; the key itself when missing (a unit test
    /// keeps both catalogs complete).
    pub fn t(self, key: &str) -> &'static str {
        let map = match self {
            Lang::En => &*EN_MAP,
            Lang::Fr => &*FR_MAP,
        };
        map.get(key).copied().unwrap_or("??")
    }

    /// An amount as people of this language write it: `€12.50`, `12,50 €`.
    pub fn money(self, amount: Money, currency: &Currency) -> String {
        let digits = amount.abs().format(currency.digits());
        let sign = if amount.is_negative() { "-" } else { "" };
        let symbol = match currency.code() {
            "EUR" => "€",
            "GBP" => "£",
            "USD" => "$",
            other => other,
        };
        match self {
            Lang::En if symbol.len() <= 3 && symbol != currency.code() => {
                format!("{sign}{symbol}{digits}")
            }
            Lang::En => format!("{sign}{digits} {symbol}"),
            // A no-break space before the symbol, as French typography wants.
            Lang::Fr => format!("{sign}{}\u{a0}{symbol}", digits.replace('.', ",")),
        }
    }

    /// A moment (microseconds) in the shop's time zone: `01/12/2026 14:05` or
    /// `2026-12-01 14:05`.
    pub fn date_time(self, micros: i64, zone: &jiff::tz::TimeZone) -> String {
        let Ok(ts) = jiff::Timestamp::from_microsecond(micros) else {
            return String::new();
        };
        let z = ts.to_zoned(zone.clone());
        match self {
            Lang::En => z.strftime("%Y-%m-%d %H:%M").to_string(),
            Lang::Fr => z.strftime("%d/%m/%Y %H:%M").to_string(),
        }
    }

    /// The time of day of a moment in the shop's zone: `14:05`.
    pub fn time(self, micros: i64, zone: &jiff::tz::TimeZone) -> String {
        jiff::Timestamp::from_microsecond(micros)
            .map(|ts| ts.to_zoned(zone.clone()).strftime("%H:%M").to_string())
            .unwrap_or_default()
    }

    /// A day: `Tuesday 1 December 2026` / `mardi 1 décembre 2026`.
    pub fn day(self, date: jiff::civil::Date) -> String {
        match self {
            Lang::En => date.strftime("%A %-d %B %Y").to_string(),
            Lang::Fr => {
                const DAYS: [&str; 7] = [
                    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
                ];
                const MONTHS: [&str; 12] = [
                    "janvier",
                    "février",
                    "mars",
                    "avril",
                    "mai",
                    "juin",
                    "juillet",
                    "août",
                    "septembre",
                    "octobre",
                    "novembre",
                    "décembre",
                ];
                let wd = date.weekday().to_monday_zero_offset() as usize;
                let m = usize::try_from(date.month() - 1).unwrap_or(0);
                format!(
                    "{} {} {} {}",
                    DAYS[wd % 7],
                    date.day(),
                    MONTHS[m % 12],
                    date.year()
                )
            }
        }
    }
}

static EN_MAP: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| all(EN, super::i18n_general::EN).collect());
static FR_MAP: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| all(FR, super::i18n_general::FR).collect());

/// A language's texts: the main list, then a page family's own (`i18n_general.rs`).
fn all(
    main: &'static [(&'static str, &'static str)],
    family: &'static [(&'static str, &'static str)],
) -> impl Iterator<Item = (&'static str, &'static str)> {
    main.iter().chain(family).copied()
}

/// English texts.
pub const EN: &[(&str, &str)] = &[
    ("app.name", "Comptoir back office"),
    ("nav.home", "Home"),
    ("nav.orders", "Orders"),
    ("nav.config", "Configuration"),
    ("nav.webservices", "Webservices"),
    ("nav.account", "My account"),
    ("nav.menu", "Main menu"),
    ("nav.skip", "Skip to the content"),
    ("signout", "Sign out"),
    ("signin.title", "Sign in"),
    ("signin.login", "Login"),
    ("signin.password", "Password"),
    ("signin.submit", "Sign in"),
    ("signin.wrong", "Wrong login or password."),
    (
        "signin.locked",
        "Too many failed attempts. Try again in a few minutes.",
    ),
    (
        "signin.expired",
        "Your session has ended. Please sign in again.",
    ),
    (
        "signin.help",
        "Users and passwords are managed on the server with the comptoir user command.",
    ),
    ("lang.label", "Language"),
    ("lang.switch", "Change"),
    ("lang.en", "English"),
    ("lang.fr", "Français"),
    ("dash.title", "Today"),
    ("dash.orders_today", "Orders today"),
    ("dash.total_today", "Sales today"),
    ("dash.pending", "Pending orders"),
    ("dash.signed_in_as", "Signed in as"),
    ("account.title", "My account"),
    ("account.sessions", "Open sessions"),
    (
        "account.sessions_help",
        "A session ends after 8 hours without activity and at the latest 7 days after signing in.",
    ),
    ("account.this_session", "this session"),
    ("account.device", "Browser"),
    ("account.started", "Signed in"),
    ("account.last_seen", "Last activity"),
    ("account.revoke", "Revoke"),
    ("account.revoked", "The session was revoked."),
    ("config.title", "Configuration"),
    ("ws.title", "Webservices"),
    ("ws.shop_id", "Shop id (idboutique):"),
    ("ws.keys", "API keys"),
    ("ws.key_label", "Label"),
    ("ws.key_prefix", "Prefix"),
    ("ws.key_created", "Created"),
    ("ws.key_created_by", "Created by"),
    ("ws.key_last_used", "Last used"),
    ("ws.key_never_used", "never"),
    ("ws.key_status", "Status"),
    ("ws.key_active", "active"),
    ("ws.key_revoked", "revoked"),
    ("ws.key_none", "No key yet."),
    ("ws.key_create", "Create a key"),
    ("ws.key_revoke", "Revoke"),
    (
        "ws.key_revoke_confirm",
        "Revoke this key? Programs that use it will stop working.",
    ),
    (
        "ws.key_new",
        "Your new API key. Copy it now: it will not be shown again.",
    ),
    ("ws.key_revoked_done", "The key was revoked."),
    (
        "ws.docs",
        "The web services record sales (webapp.php) and read orders and lists; see docs/web-services.md.",
    ),
    ("gate.title", "Webservices need the extended licence"),
    (
        "gate.unlocks",
        "The extended licence unlocks the web services: recording sales from your website or your programs (webapp.php), reading orders and lists, API keys and the query builder with ready-to-use code samples.",
    ),
    ("gate.how", "An operator enables it on the server with:"),
    ("nav.reports", "Reports"),
    ("reports.title", "Reports"),
    ("reports.day", "Day"),
    ("reports.cashbox", "Cash box"),
    ("reports.user", "User"),
    ("reports.format", "Format"),
    ("reports.all", "All"),
    ("reports.show", "Show"),
    ("reports.download", "Download"),
    ("reports.download_link", "Download this report"),
    ("reports.inline", "The day's report"),
    ("reports.fix", "Please correct:"),
    ("reports.f_html", "HTML page"),
    ("reports.f_pdf", "PDF"),
    ("reports.f_csv", "CSV (sales table)"),
    ("reports.f_xlsx", "Excel (XLSX)"),
    ("reports.f_xml", "XML"),
    ("reports.f_json", "JSON"),
    ("reports.f_fec", "FEC (ISO-8859-15)"),
    ("reports.f_fec_utf8", "FEC (UTF-8)"),
    ("orders.title", "Orders"),
    ("orders.day", "Day"),
    ("orders.prev", "Previous day"),
    ("orders.next", "Next day"),
    ("orders.today", "Today"),
    ("orders.search", "Number, client id or name"),
    ("orders.go", "Show"),
    ("orders.none", "No order."),
    ("orders.number", "No."),
    ("orders.time", "Time"),
    ("orders.client", "Client"),
    ("orders.status", "Status"),
    ("orders.total", "Total"),
    ("orders.pending", "Pending orders"),
    ("orders.validated", "Validated orders"),
    ("order.title", "Order"),
    ("order.lines", "Lines"),
    ("order.item", "Item"),
    ("order.qty", "Qty"),
    ("order.unit", "Unit price"),
    ("order.vat", "VAT"),
    ("order.payments", "Payments"),
    ("order.method", "Method"),
    ("order.amount", "Amount"),
    ("order.at", "At"),
    ("order.seal", "Seal"),
    ("order.invoice", "Invoice (PDF)"),
    ("order.value_date", "Value date"),
    ("order.created", "Created"),
    ("order.paid", "Paid"),
    ("order.comment", "Comment"),
    ("status.pending", "pending"),
    ("status.validated", "validated"),
    ("status.terminated", "paid"),
    ("error.title", "Error"),
    (
        "error.forbidden",
        "Your role does not give access to this page.",
    ),
    ("error.not_found", "This page does not exist."),
    (
        "error.csrf",
        "This form has expired or did not come from this site. Reload the page and try again.",
    ),
    (
        "error.internal",
        "Something went wrong on the server. Try again later.",
    ),
    ("error.back", "Back to the home page"),
    ("qb.title", "Query builder"),
    (
        "qb.help",
        "Describe a sale: the page gives the exact URL and programs that send it. The programs print the answer and stop with an error when it is KO.",
    ),
    (
        "qb.invalid",
        "Some fields need fixing before anything is generated:",
    ),
    ("qb.expected", "expected"),
    ("qb.sale", "Sale"),
    ("qb.key", "API key (key)"),
    ("qb.payment", "Payment (payment)"),
    ("qb.pending", "pending order, not paid"),
    ("qb.unpaid", "validated, not paid"),
    ("qb.delivery", "Delivery method (deliveryMethod)"),
    ("qb.default", "default (4, counter sale)"),
    ("qb.user", "User (idUser)"),
    ("qb.default_user", "default (webservice)"),
    ("qb.client", "Client"),
    ("qb.client_none", "No client"),
    ("qb.client_existing", "Existing client (idClient)"),
    ("qb.client_new", "New client"),
    ("qb.client_field", "New client:"),
    ("qb.items", "Lines (itemsList[])"),
    ("qb.item", "Catalog item"),
    ("qb.qty", "Quantity"),
    ("qb.line_title", "Title (optional)"),
    ("qb.price", "Price"),
    ("qb.variations", "Variations"),
    ("qb.dept_line", "Department line"),
    ("qb.free_line", "Free line"),
    ("qb.more", "Comments and options"),
    ("qb.public_comment", "Public comment (on the receipt)"),
    ("qb.private_comment", "Private comment"),
    ("qb.value_date", "Value date (dateValeur), shop time"),
    ("qb.idempotency", "Idempotency key (idempotencyKey)"),
    ("qb.build", "Generate"),
    ("qb.url", "The URL"),
    (
        "qb.url_note",
        "A key in a URL ends up in logs (servers, proxies, browser history): prefer the samples below, which send it in the body of a POST.",
    ),
    ("qb.send", "Send now"),
    ("qb.send_confirm", "Record this sale now in your shop?"),
    ("qb.answer", "Answer"),
    ("qb.samples", "Code samples"),
    (
        "qb.samples_help",
        "Each sample sends the same parameters as a form-encoded POST, with the key in the body. The jQuery one needs jQuery on the page (Comptoir serves a copy at /static/jquery.min.js).",
    ),
    ("delivery.take_away", "take away"),
    ("delivery.to_deliver", "to deliver"),
    ("delivery.on_site", "on site"),
    ("delivery.drive", "drive-thru"),
    ("delivery.counter", "counter sale"),
    ("delivery.relay", "relay point"),
    ("delivery.ship", "to ship"),
];

/// French texts.
pub const FR: &[(&str, &str)] = &[
    ("app.name", "Comptoir — back-office"),
    ("nav.home", "Accueil"),
    ("nav.orders", "Commandes"),
    ("nav.config", "Configuration"),
    ("nav.webservices", "Webservices"),
    ("nav.account", "Mon compte"),
    ("nav.menu", "Menu principal"),
    ("nav.skip", "Aller au contenu"),
    ("signout", "Se déconnecter"),
    ("signin.title", "Connexion"),
    ("signin.login", "Identifiant"),
    ("signin.password", "Mot de passe"),
    ("signin.submit", "Se connecter"),
    ("signin.wrong", "Identifiant ou mot de passe incorrect."),
    (
        "signin.locked",
        "Trop d’essais infructueux. Réessayez dans quelques minutes.",
    ),
    (
        "signin.expired",
        "Votre session a pris fin. Reconnectez-vous.",
    ),
    (
        "signin.help",
        "Les utilisateurs et leurs mots de passe se gèrent sur le serveur avec la commande comptoir user.",
    ),
    ("lang.label", "Langue"),
    ("lang.switch", "Changer"),
    ("lang.en", "English"),
    ("lang.fr", "Français"),
    ("dash.title", "Aujourd’hui"),
    ("dash.orders_today", "Commandes du jour"),
    ("dash.total_today", "Ventes du jour"),
    ("dash.pending", "Commandes en attente"),
    ("dash.signed_in_as", "Connecté en tant que"),
    ("account.title", "Mon compte"),
    ("account.sessions", "Sessions ouvertes"),
    (
        "account.sessions_help",
        "Une session prend fin après 8 heures d’inactivité et au plus tard 7 jours après la connexion.",
    ),
    ("account.this_session", "cette session"),
    ("account.device", "Navigateur"),
    ("account.started", "Connexion"),
    ("account.last_seen", "Dernière activité"),
    ("account.revoke", "Révoquer"),
    ("account.revoked", "La session a été révoquée."),
    ("config.title", "Configuration"),
    ("ws.title", "Webservices"),
    ("ws.shop_id", "Identifiant de la boutique (idboutique) :"),
    ("ws.keys", "Clés d’API"),
    ("ws.key_label", "Libellé"),
    ("ws.key_prefix", "Préfixe"),
    ("ws.key_created", "Créée le"),
    ("ws.key_created_by", "Créée par"),
    ("ws.key_last_used", "Dernière utilisation"),
    ("ws.key_never_used", "jamais"),
    ("ws.key_status", "État"),
    ("ws.key_active", "active"),
    ("ws.key_revoked", "révoquée"),
    ("ws.key_none", "Aucune clé pour l’instant."),
    ("ws.key_create", "Créer une clé"),
    ("ws.key_revoke", "Révoquer"),
    (
        "ws.key_revoke_confirm",
        "Révoquer cette clé ? Les programmes qui l’utilisent cesseront de fonctionner.",
    ),
    (
        "ws.key_new",
        "Votre nouvelle clé d’API. Copiez-la maintenant : elle ne sera plus affichée.",
    ),
    ("ws.key_revoked_done", "La clé a été révoquée."),
    (
        "ws.docs",
        "Les webservices enregistrent des ventes (webapp.php) et lisent commandes et listes ; voir docs/web-services.md.",
    ),
    ("gate.title", "Les webservices demandent la licence étendue"),
    (
        "gate.unlocks",
        "La licence étendue ouvre les webservices : enregistrer des ventes depuis votre site ou vos programmes (webapp.php), lire les commandes et les listes, les clés d’API et le générateur de requêtes avec des exemples de code prêts à l’emploi.",
    ),
    ("gate.how", "Un opérateur l’active sur le serveur avec :"),
    ("nav.reports", "Rapports"),
    ("reports.title", "Rapports"),
    ("reports.day", "Jour"),
    ("reports.cashbox", "Caisse"),
    ("reports.user", "Utilisateur"),
    ("reports.format", "Format"),
    ("reports.all", "Tous"),
    ("reports.show", "Afficher"),
    ("reports.download", "Télécharger"),
    ("reports.download_link", "Télécharger ce rapport"),
    ("reports.inline", "Le rapport du jour"),
    ("reports.fix", "À corriger :"),
    ("reports.f_html", "Page HTML"),
    ("reports.f_pdf", "PDF"),
    ("reports.f_csv", "CSV (tableau des ventes)"),
    ("reports.f_xlsx", "Excel (XLSX)"),
    ("reports.f_xml", "XML"),
    ("reports.f_json", "JSON"),
    ("reports.f_fec", "FEC (ISO-8859-15)"),
    ("reports.f_fec_utf8", "FEC (UTF-8)"),
    ("orders.title", "Commandes"),
    ("orders.day", "Jour"),
    ("orders.prev", "Jour précédent"),
    ("orders.next", "Jour suivant"),
    ("orders.today", "Aujourd’hui"),
    ("orders.search", "Numéro, n° ou nom du client"),
    ("orders.go", "Afficher"),
    ("orders.none", "Aucune commande."),
    ("orders.number", "N°"),
    ("orders.time", "Heure"),
    ("orders.client", "Client"),
    ("orders.status", "État"),
    ("orders.total", "Total"),
    ("orders.pending", "Commandes en attente"),
    ("orders.validated", "Commandes validées"),
    ("order.title", "Commande"),
    ("order.lines", "Lignes"),
    ("order.item", "Article"),
    ("order.qty", "Qté"),
    ("order.unit", "Prix unitaire"),
    ("order.vat", "TVA"),
    ("order.payments", "Paiements"),
    ("order.method", "Moyen"),
    ("order.amount", "Montant"),
    ("order.at", "Le"),
    ("order.seal", "Sceau"),
    ("order.invoice", "Facture (PDF)"),
    ("order.value_date", "Date de valeur"),
    ("order.created", "Créée le"),
    ("order.paid", "Payé"),
    ("order.comment", "Commentaire"),
    ("status.pending", "en attente"),
    ("status.validated", "validée"),
    ("status.terminated", "payée"),
    ("error.title", "Erreur"),
    (
        "error.forbidden",
        "Votre rôle ne donne pas accès à cette page.",
    ),
    ("error.not_found", "Cette page n’existe pas."),
    (
        "error.csrf",
        "Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez.",
    ),
    (
        "error.internal",
        "Une erreur est survenue sur le serveur. Réessayez plus tard.",
    ),
    ("error.back", "Retour à l’accueil"),
    ("qb.title", "Générateur de requêtes"),
    (
        "qb.help",
        "Décrivez une vente : la page donne l’URL exacte et des programmes qui l’envoient. Les programmes affichent la réponse et s’arrêtent en erreur quand elle est KO.",
    ),
    (
        "qb.invalid",
        "Certains champs sont à corriger avant toute génération :",
    ),
    ("qb.expected", "attendu :"),
    ("qb.sale", "Vente"),
    ("qb.key", "Clé d’API (key)"),
    ("qb.payment", "Paiement (payment)"),
    ("qb.pending", "commande en attente, non payée"),
    ("qb.unpaid", "validée, non payée"),
    ("qb.delivery", "Mode de livraison (deliveryMethod)"),
    ("qb.default", "par défaut (4, vente au comptoir)"),
    ("qb.user", "Utilisateur (idUser)"),
    ("qb.default_user", "par défaut (webservice)"),
    ("qb.client", "Client"),
    ("qb.client_none", "Sans client"),
    ("qb.client_existing", "Client existant (idClient)"),
    ("qb.client_new", "Nouveau client"),
    ("qb.client_field", "Nouveau client :"),
    ("qb.items", "Lignes (itemsList[])"),
    ("qb.item", "Article du catalogue"),
    ("qb.qty", "Quantité"),
    ("qb.line_title", "Libellé (facultatif)"),
    ("qb.price", "Prix"),
    ("qb.variations", "Déclinaisons"),
    ("qb.dept_line", "Ligne de rayon"),
    ("qb.free_line", "Ligne libre"),
    ("qb.more", "Commentaires et options"),
    ("qb.public_comment", "Commentaire public (sur le ticket)"),
    ("qb.private_comment", "Commentaire privé"),
    (
        "qb.value_date",
        "Date de valeur (dateValeur), heure de la boutique",
    ),
    ("qb.idempotency", "Clé d’idempotence (idempotencyKey)"),
    ("qb.build", "Générer"),
    ("qb.url", "L’URL"),
    (
        "qb.url_note",
        "Une clé dans une URL finit dans les journaux (serveurs, proxys, historique du navigateur) : préférez les exemples ci-dessous, qui l’envoient dans le corps d’un POST.",
    ),
    ("qb.send", "Envoyer maintenant"),
    (
        "qb.send_confirm",
        "Enregistrer cette vente maintenant dans votre boutique ?",
    ),
    ("qb.answer", "Réponse"),
    ("qb.samples", "Exemples de code"),
    (
        "qb.samples_help",
        "Chaque exemple envoie les mêmes paramètres en POST (formulaire encodé), la clé dans le corps. Celui en jQuery demande jQuery sur la page (Comptoir en sert une copie à /static/jquery.min.js).",
    ),
    ("delivery.take_away", "à emporter"),
    ("delivery.to_deliver", "à livrer"),
    ("delivery.on_site", "sur place"),
    ("delivery.drive", "drive"),
    ("delivery.counter", "vente au comptoir"),
    ("delivery.relay", "point relais"),
    ("delivery.ship", "à expédier"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(list: &[(&'static str, &str)]) -> BTreeSet<&'static str> {
        list.iter().map(|(k, _)| *k).collect()
    }

    fn catalog(lang: Lang) -> Vec<(&'static str, &'static str)> {
        match lang {
            Lang::En => all(EN, super::super::i18n_general::EN).collect(),
            Lang::Fr => all(FR, super::super::i18n_general::FR).collect(),
        }
    }

    #[test]
    fn both_catalogs_have_the_same_keys_once() {
        let (en_list, fr_list) = (catalog(Lang::En), catalog(Lang::Fr));
        let (en, fr) = (keys(&en_list), keys(&fr_list));
        assert_eq!(en.len(), en_list.len(), "a key is twice in EN");
        assert_eq!(fr.len(), fr_list.len(), "a key is twice in FR");
        let missing_fr: Vec<_> = en.difference(&fr).collect();
        let missing_en: Vec<_> = fr.difference(&en).collect();
        assert!(missing_fr.is_empty(), "missing in FR: {missing_fr:?}");
        assert!(missing_en.is_empty(), "missing in EN: {missing_en:?}");
    }

    /// Every `t("...")` the templates and page modules use names a key of the catalogs.
    #[test]
    fn every_key_used_exists() {
        let en = keys(&catalog(Lang::En));
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/pages");
        let mut used = 0;
        for d in [dir, src] {
            for entry in std::fs::read_dir(d).expect("folder") {
                let path = entry.expect("entry").path();
                let text = std::fs::read_to_string(&path).expect("read");
                for part in text.split("t(\"").skip(1) {
                    let key = part.split('"').next().unwrap_or("");
                    let word = key
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_');
                    if word && key.contains('.') && !key.starts_with('.') {
                        used += 1;
                        assert!(en.contains(key), "{}: unknown key {key}", path.display());
                    }
                }
            }
        }
        assert!(used > 30, "found only {used} uses");
    }

    #[test]
    fn accept_language_picks_by_weight() {
        assert_eq!(
            Lang::from_accept_language("fr-FR,fr;q=0.9,en;q=0.8"),
            Lang::Fr
        );
        assert_eq!(
            Lang::from_accept_language("de-DE,en;q=0.5,fr;q=0.7"),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language("en-GB,fr;q=0.3"), Lang::En);
        assert_eq!(Lang::from_accept_language("de"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
    }

    #[test]
    fn amounts_and_days_follow_the_language() {
        let eur = Currency::EUR;
        assert_eq!(Lang::En.money(Money::from_minor(1250), &eur), "€12.50");
        assert_eq!(
            Lang::Fr.money(Money::from_minor(-1250), &eur),
            "-12,50\u{a0}€"
        );
        let d = jiff::civil::date(2026, 12, 1);
        assert_eq!(Lang::Fr.day(d), "mardi 1 décembre 2026");
        assert_eq!(Lang::En.day(d), "Tuesday 1 December 2026");
    }
}
