"""Install the top-level folders `dsl/`, `runtime/`, `stdlib/` as `rillet.dsl`, `rillet.runtime`,
`rillet.stdlib`; the package list is computed so no
subpackage is silently left out of the wheel."""

from setuptools import find_packages, setup

TOP = ("dsl", "runtime", "stdlib", "flink")

packages, package_dir = [], {}
for top in TOP:
    for found in [top, *(f"{top}.{sub}" for sub in find_packages(top))]:
        name = f"rillet.{found}"
        packages.append(name)
        package_dir[name] = found.replace(".", "/")

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={name: ["*.lark", "*.html", "py.typed"] for name in packages},
)
