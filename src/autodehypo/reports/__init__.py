"""Read-only views of finished or running studies: text summaries, tables, plots, HTML, exports."""
