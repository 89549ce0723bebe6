"""Name pools for the demo marketplace: fictional German ISVs, apps, SME customers and channel partners.

The pools are fixed; the seed only chooses from them. An ISV or partner id therefore always stands for the same name,
so two seeds run on one stack never give one id two names.
"""

import re
import unicodedata

from domain.catalogue import Category

# (id, name): software houses named after German regions and rivers; ids are slugs, as the API wants them.
ISVS: tuple[tuple[str, str], ...] = (
    ("nordlicht", "Nordlicht Software GmbH"),
    ("elbwerk", "Elbwerk Digital GmbH"),
    ("isarsoft", "Isarsoft GmbH"),
    ("rheinlogik", "Rheinlogik AG"),
    ("spreecloud", "Spreecloud GmbH"),
    ("hansedata", "Hansedata GmbH & Co. KG"),
    ("alpenbyte", "Alpenbyte GmbH"),
    ("mainsystems", "Main Systems GmbH"),
    ("neckarsoft", "Neckarsoft GmbH"),
    ("weser-it", "Weser-IT Solutions GmbH"),
    ("ostseecode", "Ostseecode GmbH"),
    ("bodensee-digital", "Bodensee Digital GmbH"),
    ("harzware", "Harzware GmbH"),
    ("moselsoft", "Moselsoft GmbH"),
    ("taunus-it", "Taunus IT GmbH"),
    ("schwarzwald-solutions", "Schwarzwald Solutions GmbH"),
    ("lausitz-labs", "Lausitz Labs GmbH"),
    ("kieler-kontor", "Kieler Kontor Software GmbH"),
    ("ruhrpixel", "Ruhrpixel GmbH"),
    ("frankenware", "Frankenware GmbH"),
    ("pfalzdata", "Pfalzdata GmbH"),
    ("allgaeu-apps", "Allgäu Apps GmbH"),
    ("saalesoft", "Saalesoft GmbH"),
    ("emsland-digital", "Emsland Digital GmbH"),
    ("havelsoft", "Havelsoft GmbH"),
    ("westfalen-cloud", "Westfalen Cloud AG"),
    ("eifelwerk", "Eifelwerk Software GmbH"),
    ("odenwald-it", "Odenwald IT GmbH"),
)

# App names by portfolio category; an app's id is "{isv}-{slug of its name}", unique in the catalogue.
APPS: dict[Category, tuple[str, ...]] = {
    Category.SALES_MARKETING: ("Kampagnenwerk", "Newsletterpilot", "Leadradar", "Werbefuchs"),
    Category.CRM: ("Kundenkompass", "Kontaktwerk", "Vertriebsnavi", "Kundencockpit"),
    Category.FINANCE_ACCOUNTING: ("Belegblitz", "Kassenbuch Pro", "Rechnungsfix", "Mahnwesen Plus"),
    Category.HR: ("Personalplaner", "Urlaubsfuchs", "Zeiterfassung Plus", "Lohnlotse"),
    Category.ERP_LOGISTICS: ("Lagerlotse", "Versandwerk", "Auftragsmanager", "Tourenplaner"),
    Category.COMMUNICATION_COLLABORATION: ("Teamfunk", "Konferenzraum", "Projektwerk", "Telefonzentrale Cloud"),
    Category.ANALYTICS_BI: ("Zahlenwerk", "Kennzahlen-Cockpit", "Umsatzradar", "Berichtsmanager"),
    Category.OFFICE_ADMINISTRATION: ("Terminfinder", "Büroboss", "Dokumentenablage", "Vertragsverwaltung"),
    Category.ANTIVIRUS_SECURITY: ("Schutzschild", "Virenwächter", "Passworttresor", "Firewall Plus"),
    Category.ONLINE_STORAGE_BACKUP: ("Datentresor", "Sicherungskopie", "Cloudspeicher Pro", "Archivbox"),
}

# Customers are small and mid-sized businesses: "{trade} {surname}{legal form}" in a town.
TRADES: tuple[tuple[str, str], ...] = (
    ("Bäckerei", ""),
    ("Autohaus", " GmbH"),
    ("Elektro", " GmbH"),
    ("Sanitär", " GmbH & Co. KG"),
    ("Tischlerei", ""),
    ("Steuerkanzlei", " & Partner"),
    ("Zahnarztpraxis Dr.", ""),
    ("Physiotherapie", ""),
    ("Hotel", " GmbH"),
    ("Friseursalon", ""),
    ("Ingenieurbüro", " GmbH"),
    ("Architekturbüro", ""),
    ("Druckerei", " GmbH"),
    ("Spedition", " GmbH & Co. KG"),
    ("Gartenbau", ""),
    ("Malerbetrieb", ""),
    ("Immobilien", " GmbH"),
    ("Dachdeckerei", " GmbH"),
    ("Optik", ""),
    ("Metzgerei", ""),
    ("Fahrschule", ""),
    ("Reisebüro", " GmbH"),
)
SURNAMES: tuple[str, ...] = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Braun",
    "Zimmermann",
    "Krüger",
    "Hartmann",
    "Lange",
    "Werner",
    "Krause",
    "Lehmann",
    "Köhler",
)
TOWNS: tuple[str, ...] = (
    "Bonn",
    "Köln",
    "Münster",
    "Kassel",
    "Erfurt",
    "Leipzig",
    "Rostock",
    "Lübeck",
    "Ulm",
    "Augsburg",
    "Regensburg",
    "Würzburg",
    "Mainz",
    "Trier",
    "Bielefeld",
    "Osnabrück",
    "Göttingen",
    "Jena",
    "Freiburg",
    "Karlsruhe",
)

# (id, name): resellers and system houses of the channel partner programme.
PARTNERS: tuple[tuple[str, str], ...] = (
    ("systemhaus-brandt", "Systemhaus Brandt GmbH"),
    ("itk-service-sued", "ITK Service Süd GmbH"),
    ("netzwerkpartner-rhein-main", "Netzwerkpartner Rhein-Main GmbH"),
    ("kommunikationstechnik-vogel", "Kommunikationstechnik Vogel KG"),
    ("buerotechnik-lindner", "Bürotechnik Lindner GmbH"),
    ("tk-fachhandel-schulte", "TK-Fachhandel Schulte e.K."),
    ("digitalberatung-ostfalen", "Digitalberatung Ostfalen GmbH"),
    ("connect-systemhaus-sachsen", "Connect Systemhaus Sachsen GmbH"),
    ("mittelstand-it-partner", "Mittelstand IT Partner GmbH"),
    ("funk-und-netz-hartmann", "Funk & Netz Hartmann GmbH"),
    ("datenwerk-franken", "Datenwerk Franken GmbH"),
    ("telekommunikation-kraemer", "Telekommunikation Krämer e.K."),
    ("systemhaus-am-dom", "Systemhaus am Dom GmbH"),
    ("breitband-partner-west", "Breitband Partner West GmbH"),
    ("cloudwerk-nordsee", "Cloudwerk Nordsee GmbH"),
    ("office-solutions-baumann", "Office Solutions Baumann GmbH"),
    ("netcom-partner-bayern", "NetCom Partner Bayern GmbH"),
    ("it-haus-seidel", "IT-Haus Seidel GmbH"),
    ("kommunikation-plus-hessen", "Kommunikation Plus Hessen GmbH"),
    ("elektro-und-it-wendt", "Elektro & IT Wendt GmbH"),
    ("telefonbau-jansen", "Telefonbau Jansen GmbH & Co. KG"),
    ("digital-partner-saar", "Digital Partner Saar GmbH"),
    ("buerowelt-kuehn", "Bürowelt Kühn GmbH"),
    ("vernetzt-mittelstand", "Vernetzt Mittelstand GmbH"),
)

# Other staff the demo assigns work to, beside the subjects of the stack's own keys.
PARTNER_MANAGERS: tuple[str, ...] = ("pm-jonas", "pm-lea")
ACCOUNT_MANAGERS: tuple[str, ...] = ("am-claudia", "am-dieter")

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


def slug(text: str) -> str:
    """A lowercase slug as the API's ids are: umlauts spelled out, anything else not [a-z0-9] becomes one dash."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_UMLAUTS)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
