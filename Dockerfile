# Production image: slim Python, non-root user, gunicorn serving server:create_app().
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=5000 \
    STORE_URL=sqlite:////app/var/bot.db

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --create-home --uid 10001 bot \
    && install -d -m 0700 -o bot -g bot /app/var
USER bot

EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"5000\")}/health')"
CMD ["gunicorn", "--config", "gunicorn.conf.py", "server:create_app()"]
