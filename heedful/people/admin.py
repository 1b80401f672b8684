from django.contrib import admin

from heedful.people.models import Employee, Team

admin.site.register(Team)
admin.site.register(Employee)
