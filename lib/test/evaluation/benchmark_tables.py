"""Official evaluation sequence tables (names, frame ranges, file layout) as compact text.

These are facts about the public benchmarks (the lists pytracking-style evaluation code hard-codes), kept in one
place so the evaluation readers and the synthetic generator agree on them. Formats:
  LaSOT test        `<class>:<k>,<k>,...`   -> names `<class>-<k>` in the listed order (70 classes x 4 = 280)
  LaSOT extension   15 classes x 10         -> `<class>-1` ... `<class>-10`
  UAV123            `<name>[@<folder>]:<start>-<end>:<class>`; frames `data_seq/UAV123/<folder>/%06d.jpg`,
                    GT `anno/UAV123/<name>.txt`; evaluation name `uav_<name>`
  OTB100            `<name>:<start>-<end>:<class>` (`_` in class = space); frames `<folder>/img/%04d.jpg`,
                    GT `<folder>/groundtruth_rect.txt`; exceptions in the OTB_* dictionaries below
  NFS (30 fps)      `<name>:<frames>:<class>`; frames `sequences/<name>/%05d.jpg` from 1, GT `anno/nfs_<name>.txt`,
                    evaluation name `nfs_<name>`
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["TableEntry", "lasot_test_names", "lasot_extension_names", "uav_table", "otb_table", "nfs_table",
           "lasot_classes"]

_LASOT_TEST = """
    airplane:1,9,13,15 basketball:1,6,7,11 bear:2,4,6,17 bicycle:2,7,9,18 bird:2,3,15,17 boat:3,4,12,17
    book:3,10,11,19 bottle:1,12,14,18 bus:2,5,17,19 car:2,6,9,17 cat:1,3,18,20 cattle:2,7,12,13
    spider:14,16,18,20 coin:3,6,7,18 crab:3,6,12,18 surfboard:12,4,5,8 cup:1,4,7,17 deer:4,8,10,14
    dog:1,7,15,19 guitar:3,8,10,16 person:1,5,10,12 pig:2,10,13,18 rubicCube:1,6,14,19 swing:10,14,17,20
    drone:13,15,2,7 pool:12,15,3,7 rabbit:10,13,17,19 racing:10,15,16,20 robot:1,19,5,8 sepia:13,16,6,8
    sheep:3,5,7,9 skateboard:16,19,3,8 tank:14,16,6,9 tiger:12,18,4,6 train:1,11,20,7 truck:16,3,6,7
    turtle:16,5,8,9 umbrella:17,19,2,9 yoyo:15,17,19,7 zebra:10,14,16,17 elephant:1,12,16,18
    goldfish:3,7,8,10 hat:1,2,5,18 kite:4,6,10,15 motorcycle:1,3,9,18 mouse:1,8,9,17 flag:3,9,5,2
    frog:3,4,20,9 gametarget:1,2,7,13 hand:2,3,9,16 helmet:5,11,19,13 licenseplate:6,12,13,15
    electricfan:1,10,18,20 chameleon:3,6,11,20 crocodile:3,4,10,14 gecko:1,5,16,19 fox:2,3,5,20
    giraffe:2,10,13,15 gorilla:4,6,9,13 hippo:1,7,9,20 horse:1,4,12,15 kangaroo:2,5,11,14
    leopard:1,7,16,20 lion:1,5,12,20 lizard:1,3,6,13 microphone:2,6,14,16 monkey:3,4,9,17 shark:2,3,5,6
    squirrel:8,11,13,19 volleyball:1,13,18,19
"""

_LASOT_EXTENSION_CLASSES = ("atv badminton cosplay dancingshoe footbag frisbee jianzi lantern misc opossum paddle "
                            "raccoon rhino skatingshoe wingsuit").split()
_LASOT_SEQUENCES_PER_CLASS = 20
_LASOT_EXTENSION_PER_CLASS = 10

_UAV123 = """
    bike1:1-3085:vehicle bike2:1-553:vehicle bike3:1-433:vehicle bird1_1@bird1:1-253:bird
    bird1_2@bird1:775-1477:bird bird1_3@bird1:1573-2437:bird boat1:1-901:vessel boat2:1-799:vessel
    boat3:1-901:vessel boat4:1-553:vessel boat5:1-505:vessel boat6:1-805:vessel boat7:1-535:vessel
    boat8:1-685:vessel boat9:1-1399:vessel building1:1-469:other building2:1-577:other building3:1-829:other
    building4:1-787:other building5:1-481:other car1_1@car1:1-751:car car1_2@car1:751-1627:car
    car1_3@car1:1627-2629:car car10:1-1405:car car11:1-337:car car12:1-499:car car13:1-415:car car14:1-1327:car
    car15:1-469:car car16_1@car16:1-415:car car16_2@car16:415-1993:car car17:1-1057:car car18:1-1207:car
    car1_s:1-1475:car car2:1-1321:car car2_s:1-320:car car3:1-1717:car car3_s:1-1300:car car4:1-1345:car
    car4_s:1-830:car car5:1-745:car car6_1@car6:1-487:car car6_2@car6:487-1807:car car6_3@car6:1807-2953:car
    car6_4@car6:2953-3925:car car6_5@car6:3925-4861:car car7:1-1033:car car8_1@car8:1-1357:car
    car8_2@car8:1357-2575:car car9:1-1879:car group1_1@group1:1-1333:person group1_2@group1:1333-2515:person
    group1_3@group1:2515-3925:person group1_4@group1:3925-4873:person group2_1@group2:1-907:person
    group2_2@group2:907-1771:person group2_3@group2:1771-2683:person group3_1@group3:1-1567:person
    group3_2@group3:1567-2827:person group3_3@group3:2827-4369:person group3_4@group3:4369-5527:person
    person1:1-799:person person10:1-1021:person person11:1-721:person person12_1@person12:1-601:person
    person12_2@person12:601-1621:person person13:1-883:person person14_1@person14:1-847:person
    person14_2@person14:847-1813:person person14_3@person14:1813-2923:person person15:1-1339:person
    person16:1-1147:person person17_1@person17:1-1501:person person17_2@person17:1501-2347:person
    person18:1-1393:person person19_1@person19:1-1243:person person19_2@person19:1243-2791:person
    person19_3@person19:2791-4357:person person1_s:1-1600:person person2_1@person2:1-1189:person
    person2_2@person2:1189-2623:person person20:1-1783:person person21:1-487:person person22:1-199:person
    person23:1-397:person person2_s:1-250:person person3:1-643:person person3_s:1-505:person
    person4_1@person4:1-1501:person person4_2@person4:1501-2743:person person5_1@person5:1-877:person
    person5_2@person5:877-2101:person person6:1-901:person person7_1@person7:1-1249:person
    person7_2@person7:1249-2065:person person8_1@person8:1-1075:person person8_2@person8:1075-1525:person
    person9:1-661:person truck1:1-463:truck truck2:1-385:truck truck3:1-535:truck truck4_1@truck4:1-577:truck
    truck4_2@truck4:577-1261:truck uav1_1@uav1:1-1555:aircraft uav1_2@uav1:1555-2377:aircraft
    uav1_3@uav1:2473-3469:aircraft uav2:1-133:aircraft uav3:1-265:aircraft uav4:1-157:aircraft uav5:1-139:aircraft
    uav6:1-109:aircraft uav7:1-373:aircraft uav8:1-301:aircraft wakeboard1:1-421:person wakeboard10:1-469:person
    wakeboard2:1-733:person wakeboard3:1-823:person wakeboard4:1-697:person wakeboard5:1-1675:person
    wakeboard6:1-1165:person wakeboard7:1-199:person wakeboard8:1-1543:person wakeboard9:1-355:person
"""

_OTB100 = """
    Basketball:1-725:person Biker:1-142:person_head Bird1:1-408:bird Bird2:1-99:bird BlurBody:1-334:person
    BlurCar1:247-988:car BlurCar2:1-585:car BlurCar3:3-359:car BlurCar4:18-397:car BlurFace:1-493:face
    BlurOwl:1-631:other Board:1-698:other Bolt:1-350:person Bolt2:1-293:person Box:1-1161:other Boy:1-602:face
    Car1:1-1020:car Car2:1-913:car Car24:1-3059:car Car4:1-659:car CarDark:1-393:car CarScale:1-252:car
    ClifBar:1-472:other Coke:1-291:other Couple:1-140:person Coupon:1-327:other Crossing:1-120:person
    Crowds:1-347:person Dancer:1-225:person Dancer2:1-150:person David:300-770:face David2:1-537:face
    David3:1-252:person Deer:1-71:mammal Diving:1-215:person Dog:1-127:dog Dog1:1-1350:dog Doll:1-3872:other
    DragonBaby:1-113:face Dudek:1-1145:face FaceOcc1:1-892:face FaceOcc2:1-812:face Fish:1-476:other
    FleetFace:1-707:face Football:1-362:person_head Football1:1-74:face Freeman1:1-326:face Freeman3:1-460:face
    Freeman4:1-283:face Girl:1-500:face Girl2:1-1500:person Gym:1-767:person Human2:1-1128:person
    Human3:1-1698:person Human4_2:1-667:person Human5:1-713:person Human6:1-792:person Human7:1-250:person
    Human8:1-128:person Human9:1-305:person Ironman:1-166:person_head Jogging_1:1-307:person Jogging_2:1-307:person
    Jump:1-122:person Jumping:1-313:face KiteSurf:1-84:face Lemming:1-1336:other Liquor:1-1741:other Man:1-134:face
    Matrix:1-100:person_head Mhyang:1-1490:face MotorRolling:1-164:vehicle MountainBike:1-228:bicycle
    Panda:1-1000:mammal RedTeam:1-1918:vehicle Rubik:1-1997:other Shaking:1-365:face Singer1:1-351:person
    Singer2:1-366:person Skater:1-160:person Skater2:1-435:person Skating1:1-400:person Skating2_1:1-473:person
    Skating2_2:1-473:person Skiing:1-81:person Soccer:1-392:face Subway:1-175:person Surfer:1-376:person_head
    Suv:1-945:car Sylvester:1-1345:other Tiger1:1-354:other Tiger2:1-365:other Toy:1-271:other Trans:1-124:other
    Trellis:1-569:face Twinnings:1-472:other Vase:1-271:other Walking:1-412:person Walking2:1-500:person
    Woman:1-597:person
"""
# OTB entries whose files do not follow the default layout.
OTB_FRAME_DIRS = {"KiteSurf": ("KiteSurf/jpg", "png")}
OTB_DIGITS = {"Board": 5}
OTB_INIT_OMIT = {"Tiger1": 5}
# Multi-target videos: `<video>_<k>` reads `<video>/groundtruth_rect.<k>.txt` and the frames of `<video>`.
_OTB_MULTI_TARGET = re.compile(r"^(Human4|Jogging|Skating2)_(\d)$")

_NFS = """
    Gymnastics:368:person MachLoop_jet:99:aircraft Skiing_red:69:person Skydiving:196:person airboard_1:425:ball
    airplane_landing:81:aircraft airtable_3:482:ball basketball_1:282:ball basketball_2:102:ball
    basketball_3:421:ball basketball_6:224:ball basketball_7:240:person basketball_player:369:person
    basketball_player_2:437:person beach_flipback_person:61:person_head bee:45:insect biker_acrobat:128:bicycle
    biker_all_1:113:person biker_head_2:132:person_head biker_head_3:254:person_head biker_upper_body:194:person
    biker_whole_body:572:person billiard_2:604:ball billiard_3:698:ball billiard_6:771:ball billiard_7:724:ball
    billiard_8:778:ball bird_2:476:bird book:288:other bottle:2103:other bowling_1:303:ball bowling_2:710:ball
    bowling_3:271:ball bowling_6:260:ball bowling_ball:275:ball bunny:705:mammal car:2020:car car_camaro:36:car
    car_drifting:173:car car_jumping:22:car car_rc_rolling:62:car car_rc_rotating:80:car car_side:108:car
    car_white:2063:car cheetah:167:mammal cup:1281:other cup_2:182:other dog:1030:dog dog_1:168:dog dog_2:594:dog
    dog_3:200:dog dogs:198:dog dollar:1426:other drone:70:aircraft ducks_lake:107:bird exit:359:other
    first:435:other flower:448:other footbal_skill:131:ball helicopter:310:aircraft horse_jumping:117:horse
    horse_running:139:horse iceskating_6:603:person jellyfish_5:746:invertebrate kid_swing:169:person
    motorcross:39:vehicle motorcross_kawasaki:65:vehicle parkour:58:person_head person_scooter:413:person
    pingpong_2:1277:ball pingpong_7:1290:ball pingpong_8:296:ball purse:968:other rubber:1328:other
    running:677:person running_100_m:313:person running_100_m_2:337:person running_2:363:person
    shuffleboard_1:42:other shuffleboard_2:41:other shuffleboard_4:62:other shuffleboard_5:32:other
    shuffleboard_6:52:other shuffletable_2:372:other shuffletable_3:368:other shuffletable_4:101:other
    ski_long:274:person soccer_ball:163:ball soccer_ball_2:1934:ball soccer_ball_3:1381:ball
    soccer_player_2:475:person soccer_player_3:319:person stop_sign:302:other suv:2584:car tiger:1556:mammal
    walking:555:person walking_3:1427:person water_ski_2:47:person yoyo:67:other zebra_fish:671:fish
"""


@dataclass(frozen=True)
class TableEntry:
    """One evaluation sequence of a table-defined benchmark; paths are relative to the benchmark root."""
    name: str
    frames_dir: str
    start_frame: int
    end_frame: int
    digits: int
    ext: str
    anno_path: str
    object_class: str
    init_omit: int = 0

    @property
    def num_frames(self) -> int:
        """Frames (and GT rows) of the sequence before `init_omit` is applied."""
        return self.end_frame - self.start_frame + 1

    @property
    def frame_pattern(self) -> str:
        """printf-style pattern of the frame file names in `frames_dir` (`pattern % number`)."""
        return f"%0{self.digits}d.{self.ext}"

    @property
    def frame_numbers(self) -> range:
        """Numbers of the frames an evaluation reads (the first `init_omit` frames are skipped)."""
        return range(self.start_frame + self.init_omit, self.end_frame + 1)

    def frame_file(self, number: int) -> str:
        """Relative path of the frame whose file name encodes `number`."""
        return f"{self.frames_dir}/{self.frame_pattern % number}"


def _tokens(table: str) -> list[str]:
    return table.split()


@lru_cache(maxsize=None)
def lasot_test_names() -> tuple[str, ...]:
    """The 280 LaSOT Protocol-II test sequences, in the order evaluation code lists them."""
    names = []
    for token in _tokens(_LASOT_TEST):
        cls, ids = token.split(":")
        names.extend(f"{cls}-{k}" for k in ids.split(","))
    return tuple(names)


@lru_cache(maxsize=None)
def lasot_classes() -> tuple[str, ...]:
    """The 70 LaSOT classes (each has sequences `<class>-1` ... `<class>-20`)."""
    return tuple(dict.fromkeys(n.rsplit("-", 1)[0] for n in lasot_test_names()))


def lasot_all_names() -> tuple[str, ...]:
    return tuple(f"{c}-{k}" for c in sorted(lasot_classes()) for k in range(1, _LASOT_SEQUENCES_PER_CLASS + 1))


@lru_cache(maxsize=None)
def lasot_extension_names() -> tuple[str, ...]:
    """The 150 LaSOT extension sequences (15 classes x 10)."""
    return tuple(f"{c}-{k}" for c in _LASOT_EXTENSION_CLASSES for k in range(1, _LASOT_EXTENSION_PER_CLASS + 1))


@lru_cache(maxsize=None)
def uav_table() -> tuple[TableEntry, ...]:
    """The 123 UAV123 evaluation entries (names without the `uav_` prefix)."""
    entries = []
    for token in _tokens(_UAV123):
        head, frames, cls = token.split(":")
        name, _, folder = head.partition("@")
        start, end = (int(v) for v in frames.split("-"))
        entries.append(TableEntry(name, f"data_seq/UAV123/{folder or name}", start, end, 6, "jpg",
                                  f"anno/UAV123/{name}.txt", cls))
    return tuple(entries)


@lru_cache(maxsize=None)
def otb_table() -> tuple[TableEntry, ...]:
    """The 100 OTB-2015 evaluation entries."""
    entries = []
    for token in _tokens(_OTB100):
        name, frames, cls = token.split(":")
        start, end = (int(v) for v in frames.split("-"))
        multi = _OTB_MULTI_TARGET.match(name)
        folder = multi.group(1) if multi else name
        anno = f"{folder}/groundtruth_rect.{multi.group(2)}.txt" if multi else f"{folder}/groundtruth_rect.txt"
        frames_dir, ext = OTB_FRAME_DIRS.get(name, (f"{folder}/img", "jpg"))
        entries.append(TableEntry(name, frames_dir, start, end, OTB_DIGITS.get(name, 4), ext, anno,
                                  cls.replace("_", " "), OTB_INIT_OMIT.get(name, 0)))
    return tuple(entries)


@lru_cache(maxsize=None)
def nfs_table() -> tuple[TableEntry, ...]:
    """The 100 NFS (30 fps) evaluation entries, in the pytracking re-arranged layout (names without `nfs_`)."""
    entries = []
    for token in _tokens(_NFS):
        name, frames, cls = token.split(":")
        entries.append(TableEntry(name, f"sequences/{name}", 1, int(frames), 5, "jpg", f"anno/nfs_{name}.txt",
                                  cls.replace("_", " ")))
    return tuple(entries)
