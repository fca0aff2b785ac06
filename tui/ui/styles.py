"""The App's stylesheet, kept in Python so it ships inside the package without package-data."""

APP_CSS = """
/* Site Secrets TUI layout: usable at 80x24. */
TabbedContent { height: 1fr; }
TabPane { padding: 0; }
.data-pane { height: 1fr; }

.pane-filter { height: 3; }
#secrets-table { height: 1fr; min-height: 4; }
#secret-detail { height: 11; border-top: solid $primary; padding: 0 1; }

#types-table { height: 1fr; min-height: 4; }
#type-detail { height: 12; border-top: solid $primary; padding: 0 1; }

#services-table { height: 1fr; min-height: 4; }
#service-detail { height: 9; border-top: solid $primary; padding: 0 1; }
#service-bindings { height: 1fr; min-height: 3; border: none; background: $boost; }
#apps-table { height: auto; max-height: 8; }

#audit-scope { height: 1; padding: 0 1; display: none; }
#audit-filters { height: 3; }
.audit-filter { width: 1fr; }
#audit-table { height: 1fr; }
#audit-status { height: 1; padding: 0 1; }

.dialog { align: center middle; background: $background 60%; }
.dialog-box {
    width: 76; max-width: 100%; height: auto; max-height: 100%;
    border: thick $primary; background: $surface; padding: 0 1;
}
.form-box { height: 100%; }
.dialog-title { text-style: bold; height: auto; margin-bottom: 1; }  /* a long name wraps, never cut away */
.dialog-buttons { height: 3; align-horizontal: right; }
.dialog-buttons Button { margin-left: 1; }
#message-body { height: auto; max-height: 16; }
#form-body { height: 1fr; }
.field-label { height: 1; margin-top: 1; }
#raw, #schema { height: 8; }
#raw.masked { text-opacity: 0%; }
Select { width: 100%; }
/* Compact form controls: one line each, so a whole form fits in 24 rows. */
.form-box Input { border: none; height: 1; padding: 0 1; background: $boost; }
.form-box Input:focus { background: $primary 30%; }
.form-box SelectCurrent { border: none; height: 1; padding: 0 1; background: $boost; }
.form-box Select:focus > SelectCurrent { background: $primary 30%; }
.form-box Checkbox { border: none; height: 1; padding: 0; }
.form-box .field-label { margin-top: 0; }
.form-box TextArea { border: none; background: $boost; }
.form-box .dialog-title { margin-bottom: 0; }
#typed { height: auto; }
"""
