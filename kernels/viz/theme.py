"""One light plotly template for every figure of the book.

Plotly's stock template adds ~10 kB of JSON to every figure; this one carries only what the
book's figures use, keeps a projector-friendly font size, and is registered as the default
when :mod:`kernels.viz` is imported.
"""
import plotly.graph_objects as go
import plotly.io as pio

# Colour-blind-safe palette (Okabe & Ito), first colour reserved for "the thing being explained".
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=14,
                  color="#222"),
        colorway=COLORS,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=50, r=20, t=50, b=45),
        xaxis=dict(showgrid=True, gridcolor="#eee", zeroline=False, linecolor="#888",
                   ticks="outside", automargin=True),
        yaxis=dict(showgrid=True, gridcolor="#eee", zeroline=False, linecolor="#888",
                   ticks="outside", automargin=True),
        hoverlabel=dict(font_size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
    )
)

pio.templates["kernels"] = TEMPLATE
pio.templates.default = "kernels"
