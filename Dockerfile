# One image for every process of the console: web (gunicorn), worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
# Editable: templates/ and static/ sit beside the package, where settings.py
# looks for them.
RUN pip install -e . \
    && DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=build \
       python manage.py collectstatic --noinput \
    && useradd --system --no-create-home console \
    && chown -R console /app/var

USER console
EXPOSE 8000
CMD ["gunicorn", "scheduler_ui.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
