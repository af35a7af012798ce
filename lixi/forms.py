"""Forms of the staff pages (Flask-WTF: CSRF token included and checked)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class PageForm(FlaskForm):
    """A form of our pages: it reads the posted form only. (Flask-WTF would also take a JSON body as
    the form, and a JSON array or number there was a 500.)"""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            return None if request.is_json else super().wrap_formdata(form, formdata)


class LoginForm(PageForm):
    # Accounts are per brand (the same email may work for two brands): the brand's code, its slug.
    brand = StringField(_l("Brand code"), validators=[DataRequired(), Length(max=80)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class VoidForm(PageForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(min=3, max=500)])
