"""scan.html: one self-contained page (inline CSS and JS, nothing fetched) showing the fleet.

A models × targets matrix, each cell coloured by its outcome; a click on a cell opens its
reasons (route, skipped routes, conflicts, key pins with their distance, the smoke verdict).
Filters: by outcome (rows with at least one cell of that outcome) and by text (path, format,
risks). Below it, the environments the set cover proposes, each with its models.
"""

from __future__ import annotations

from html import escape

from ..constants import LOADER_PACKAGES
from .fleet import Cell, ModelRow, Outcome, ScanResult

COLOURS = {
    Outcome.PROVED: "#1a7f37",
    Outcome.SOLVED: "#4c9be8",
    Outcome.SMOKE_FAILED: "#d4762c",
    Outcome.UNSOLVABLE: "#cf222e",
    Outcome.REFUSED: "#6e7781",
}

CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em;color:#1f2328}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin-top:1.6em}
.summary{color:#57606a;margin-bottom:1em}
.filters{display:flex;gap:1em;align-items:center;margin:.8em 0}
.filters input{padding:.3em .5em;min-width:18em}
table.matrix{border-collapse:collapse}
.matrix th,.matrix td{border:1px solid #d0d7de;padding:.3em .5em;vertical-align:top;text-align:left}
.matrix th{background:#f6f8fa}
td.model{max-width:28em;word-break:break-all}
.model small,.cellbtn small{display:block;color:#57606a;font-weight:normal}
.cellbtn{border:0;color:#fff;font-weight:600;padding:.35em .6em;border-radius:4px;cursor:pointer;min-width:9em;text-align:left}
.cellbtn small{color:#f0f0f0}
.details{margin-top:.4em;max-width:36em;font-size:12.5px}
.details ul{margin:.2em 0;padding-left:1.2em}
.risk{display:inline-block;background:#fff8c5;border:1px solid #d4a72c;border-radius:3px;padding:0 .3em;margin:.1em;font-size:12px}
.legend span{display:inline-block;color:#fff;border-radius:3px;padding:0 .5em;margin-right:.4em}
.envs li{margin-bottom:.5em}
code{font-size:12.5px}
"""

JS = """
(function(){
  var text=document.getElementById('text-filter'), outcome=document.getElementById('outcome-filter');
  var rows=Array.prototype.slice.call(document.querySelectorAll('tr.model-row'));
  var count=document.getElementById('shown-count');
  function apply(){
    var q=text.value.trim().toLowerCase(), o=outcome.value, shown=0;
    rows.forEach(function(r){
      var okText=!q||r.getAttribute('data-text').indexOf(q)>=0;
      var okOutcome=!o||(' '+r.getAttribute('data-outcomes')+' ').indexOf(' '+o+' ')>=0;
      var show=okText&&okOutcome; r.style.display=show?'':'none'; if(show){shown++;}
    });
    count.textContent=shown+' of '+rows.length+' models shown';
  }
  text.addEventListener('input',apply); outcome.addEventListener('change',apply);
  document.querySelectorAll('.cellbtn').forEach(function(b){
    b.addEventListener('click',function(){
      var d=document.getElementById(b.getAttribute('aria-controls'));
      var open=d.hasAttribute('hidden'); if(open){d.removeAttribute('hidden');}else{d.setAttribute('hidden','');}
      b.setAttribute('aria-expanded',open?'true':'false');
    });
  });
  apply();
})();
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _cell(row_no: int, col_no: int, cell: Cell) -> str:
    colour = COLOURS[cell.outcome]
    did = f"d-{row_no}-{col_no}"
    core = " · ".join(f"{p.name} {p.version}" for p in cell.pins if p.name in LOADER_PACKAGES)
    small = core + (f" · distance {cell.distance:g}" if cell.distance is not None else "")
    if not small and cell.reasons:  # no environment: the first reason, shortened
        first = cell.reasons[-1] if cell.outcome is Outcome.UNSOLVABLE and len(cell.reasons) > 1 else cell.reasons[0]
        small = first if len(first) <= 90 else first[:89] + "…"
    parts = [f'<ul class="reasons">{"".join(f"<li>{_e(r)}</li>" for r in cell.reasons)}</ul>']
    if cell.pins:
        pins = "".join(f"<li><code>{_e(p.name)} {_e(p.version)}</code>"
                       + (f" (trained with {_e(p.preferred)}: {_e(p.distance)})" if p.preferred else "") + "</li>"
                       for p in cell.pins)
        parts.append(f"<div>key pins:</div><ul>{pins}</ul>")
    if cell.env_vars:
        parts.append("<div>environment: " + " ".join(f"<code>{_e(k)}={_e(v)}</code>" for k, v in cell.env_vars) + "</div>")
    if cell.env:
        parts.append(f"<div>environment id <code>{_e(cell.env)}</code></div>")
    if cell.proof is not None:
        p = cell.proof
        parts.append(f"<div>smoke test <b>{_e(p.status.value)}</b> ({p.seconds:.0f}s"
                     + (", environment reused" if p.env_reused else "") + f"): {_e(p.reason)}</div>")
    return (f'<td class="cell" data-outcome="{_e(cell.outcome.value)}" data-target="{_e(cell.target)}">'
            f'<button class="cellbtn" style="background:{colour}" aria-expanded="false" aria-controls="{did}">'
            f'{_e(cell.outcome.value)}<small>{_e(small)}</small></button>'
            f'<div class="details" id="{did}" hidden>{"".join(parts)}</div></td>')


def _row(row_no: int, row: ModelRow, targets: tuple[str, ...]) -> str:
    outcomes = " ".join(sorted({c.outcome.value for c in row.cells}))
    risks = "".join(f'<span class="risk" title="{_e(n)}">{_e(r.value)}</span>' for r, n in zip(row.risks, row.risk_notes))
    writer = ", ".join(x for x in (row.format, f"Keras {row.keras_version}" if row.keras_version else None,
                                    f"TF {row.tensorflow_version}" if row.tensorflow_version else None) if x)
    training = ", ".join(f"{k} {v}" for k, v in row.training)
    search = " ".join([row.path, writer, outcomes, *(r.value for r in row.risks)]).lower()
    cells = []
    for col_no, tid in enumerate(targets):
        cell = row.cell(tid)
        cells.append(_cell(row_no, col_no, cell) if cell else "<td></td>")
    return (f'<tr class="model-row" data-outcomes="{_e(outcomes)}" data-text="{_e(search)}">'
            f'<td class="model"><b>{_e(row.path)}</b><small>{_e(writer or (row.error or ""))}</small>'
            f'<small>{_e("trained with " + training if training else "")}</small>{risks}</td>{"".join(cells)}</tr>')


def render(result: ScanResult, title: str = "kresolve scan") -> str:
    targets = result.targets
    head = "".join(f"<th>{_e(t)}</th>" for t in targets)
    body = "".join(_row(i, r, targets) for i, r in enumerate(result.rows))
    options = "".join(f'<option value="{_e(o.value)}">{_e(o.value)}</option>' for o in Outcome)
    legend = "".join(f'<span style="background:{c}">{_e(o.value)}</span>' for o, c in COLOURS.items())
    envs = "".join(
        f'<li id="env-{p.number}"><b>environment {p.number}</b> on {_e(p.target)} '
        f'(<code>{_e(", ".join(f"{k} {v}" for k, v in p.pins))}</code>; from {_e(p.source_model)}; '
        f'summed distance {p.distance:g}): {len(p.models)} model(s)<ul>'
        + "".join(f"<li>{_e(m)}</li>" for m in p.models) + "</ul></li>"
        for p in result.proposals)
    notes = "".join(f"<li>{_e(n)}</li>" for n in result.notes)
    policy = f" inside the policy {_e(result.policy)}" if result.policy else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<div class="summary" id="summary">{_e(result.summary())}{policy}</div>
<div class="legend">{legend}</div>
<div class="filters">
<label>outcome <select id="outcome-filter"><option value="">any</option>{options}</select></label>
<label>text <input id="text-filter" type="search" placeholder="path, format, risk…"></label>
<span id="shown-count"></span>
</div>
<table class="matrix" id="matrix"><thead><tr><th>model</th>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Environments covering the fleet</h2>
<p>Greedy set cover over the solved environments: each step takes the environment that serves the most models not yet served.</p>
<ol class="envs" id="environments">{envs or "<li>none: no model solved</li>"}</ol>
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
<script>{JS}</script>
</body></html>
"""
