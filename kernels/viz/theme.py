"""One light plotly template for every figure of the book.

Plotly's stock template adds ~10 kB of JSON to every figure; this one carries only what the
book's figures use, keeps a projector-friendly font size, and is registered as the default
when :mod:`kernels.viz` is imported.

A figure's title is drawn by the page, as HTML above the plot (the Explorer's front end takes it
out of the layout, see ``static/kernels-frames.js``): so a figure's top margin holds only what
sits above its plot area (a legend, subplot titles), and its height counts the plot without the
title. Drawn by plotly itself (``fig.show()``), ``title.automargin`` makes room for the title.
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
        margin=dict(l=50, r=20, t=20, b=45),
        title=dict(automargin=True),
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


def steady_axes(fig: go.Figure, **axes) -> go.Figure:
    """``fig`` with its margins fixed and horizontal x labels, for a figure an Explorer redraws
    on every frame switch: plotly's automargin and automatic label angle measure every tick
    label again on each switch (and automargin redraws when a margin moves), so a figure that
    calls this sets its margins at what automargin settled on for every frame. ``axes``: more
    settings for every axis."""
    return (fig.update_xaxes(automargin=False, tickangle=0, **axes)
            .update_yaxes(automargin=False, **axes))
