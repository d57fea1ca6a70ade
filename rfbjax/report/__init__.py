"""The report room, above the models and below the studies: signals and audio in; strict JSON,
tables, markdown and figures (`rfbjax.report.plots`) out.
"""
